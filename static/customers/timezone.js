// Tells the server the browser's time zone, so the admin shows times as the agent reads them.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var value = "crm_tz=" + encodeURIComponent(zone);
    if (zone && document.cookie.split("; ").indexOf(value) === -1) {
      document.cookie = value + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (error) {
    // An old browser without Intl keeps the server's default time zone.
  }
})();
