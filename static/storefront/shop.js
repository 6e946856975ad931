// The demo shop's tracking: Segment-style calls to the CRM's /ingest/v1/ from the browser, with
// the page's track-only key. The cart shown here is the browser's own; the CRM builds its copy
// from the events, which is the point of the demo.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("shop-config").textContent);
  const text = config.text;
  const status = document.getElementById("status");
  const uuid = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID()
    : "id-" + Date.now().toString(36) + Math.random().toString(36).slice(2));
  const stored = (name, fallback) => {
    try { return JSON.parse(localStorage.getItem("crm-demo-" + name)) ?? fallback; }
    catch (error) { return fallback; }
  };
  const keep = (name, value) => localStorage.setItem("crm-demo-" + name, JSON.stringify(value));

  const anonymousId = stored("anonymous-id", null) || uuid();
  keep("anonymous-id", anonymousId);
  let cart = stored("cart", {});
  let email = stored("email", "");

  function say(message, failed) {
    status.textContent = message;
    status.classList.toggle("error", Boolean(failed));
  }

  async function send(call, body) {
    const payload = Object.assign({
      anonymousId: anonymousId,
      messageId: uuid(),
      timestamp: new Date().toISOString(),
    }, body);
    try {
      const response = await fetch(config.endpoint + call, {
        method: "POST",
        headers: {"Authorization": "Bearer " + config.key, "Content-Type": "application/json"},
        body: JSON.stringify(payload),
      });
      if (!response.ok) {
        const answer = await response.json().catch(() => ({message: response.statusText}));
        say(text.failed.replace("%s", answer.message || response.status), true);
        return false;
      }
      say(text.sent.replace("%s", body.event || body.name || call));
      return true;
    } catch (error) {
      say(text.offline, true);
      return false;
    }
  }

  function render() {
    const list = document.getElementById("cart-lines");
    list.replaceChildren();
    const skus = Object.keys(cart);
    for (const sku of skus) {
      const line = cart[sku];
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = line.quantity + " × " + line.name;
      const total = document.createElement("span");
      total.className = "line-total";
      total.textContent = (line.price * line.quantity).toFixed(2) + " " + line.currency;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = text.remove;
      remove.addEventListener("click", () => removeLine(sku));
      item.append(label, total, remove);
      list.append(item);
    }
    document.getElementById("cart-empty").hidden = skus.length > 0;
    document.getElementById("checkout").disabled = skus.length === 0;
    document.getElementById("email").value = email;
    const link = document.getElementById("crm-link");
    link.href = link.href.split("?")[0] + "?q=" + encodeURIComponent(email || anonymousId);
    keep("cart", cart);
  }

  function product(button) {
    const node = button.closest(".product");
    return {
      sku: node.dataset.sku, name: node.dataset.name, price: Number(node.dataset.price),
      currency: node.dataset.currency, quantity: 1,
    };
  }

  async function add(button) {
    const item = product(button);
    if (await send("track", {event: "Product Added", properties: item})) {
      const line = cart[item.sku] || Object.assign({}, item, {quantity: 0});
      line.quantity += 1;
      cart[item.sku] = line;
      render();
    }
  }

  async function removeLine(sku) {
    const line = cart[sku];
    const properties = {sku: sku, name: line.name, price: line.price, quantity: line.quantity};
    if (await send("track", {event: "Product Removed", properties: properties})) {
      delete cart[sku];
      render();
    }
  }

  async function checkout() {
    const products = Object.values(cart);
    const total = products.reduce((sum, line) => sum + line.price * line.quantity, 0);
    const orderId = "DEMO-" + uuid().slice(0, 8).toUpperCase();
    const properties = {
      order_id: orderId, total: Number(total.toFixed(2)), currency: products[0].currency,
      products: products,
    };
    if (await send("track", {event: "Order Completed", properties: properties})) {
      cart = {};
      render();
      say(text.ordered.replace("%s", orderId));
    }
  }

  document.querySelectorAll(".product .add").forEach((button) => {
    button.addEventListener("click", () => add(button));
  });
  document.getElementById("checkout").addEventListener("click", checkout);
  document.getElementById("identify").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = document.getElementById("email").value.trim();
    if (await send("identify", {traits: {email: value}})) {
      email = value;
      keep("email", email);
      render();
    }
  });
  render();
  send("page", {name: document.title, properties: {path: location.pathname, url: location.href}});
})();
