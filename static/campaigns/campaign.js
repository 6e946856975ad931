// The campaign admin (campaigns/admin/campaign.py): the form shows the time fields its schedule
// uses (the send time for "at", the recurrence for "recurring"), and buttons that cannot be
// undone (cancel) ask first. Without JavaScript every field shows and nothing asks.
(function () {
  "use strict";

  const FIELDS = { at: ["send_at"], recurring: ["crontab"] };
  const ALL = ["send_at", "crontab"];

  function showScheduleFields(select) {
    const wanted = FIELDS[select.value] || [];
    for (const name of ALL) {
      const row = document.querySelector(".form-row.field-" + name);
      if (row) {
        row.hidden = !wanted.includes(name);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const select = document.querySelector("select.crm-campaign-schedule");
    if (select) {
      showScheduleFields(select);
      select.addEventListener("change", function () {
        showScheduleFields(select);
      });
    }
  });

  document.addEventListener("submit", function (event) {
    const button = event.submitter;
    const question = button && button.dataset ? button.dataset.confirm : "";
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
