// Smart-list criteria builder: builds the criteria JSON and shows the live preview count.
(function () {
  "use strict";
  const builder = document.getElementById("builder");
  if (!builder) return;
  const options = JSON.parse(builder.dataset.options);
  const form = document.getElementById("list-form");
  const smart = document.getElementById("smart");
  const hidden = document.getElementById("criteria-json");
  const countEl = document.getElementById("preview-count");
  const errorEl = document.getElementById("preview-error");
  const sampleEl = document.getElementById("preview-sample");
  const LABELS = {
    all_in_territory: "In territory", high_value: "Lifetime revenue at least",
    ordered_product: "Ordered product", no_order_in_days: "No order in the last N days",
    custom: "Custom query", account_type: "Account type", account_priority: "Account priority",
    engagement_score: "Engagement score at least", engaged_in_days: "Engaged in the last N days",
    engagement_state: "Engagement state", clicked_campaign: "Clicked campaign",
    opened_not_ordered: "Opened in the last N days but did not order",
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  }

  function select(name, values, labels, allowEmpty) {
    const s = el("select", { class: "form-select form-select-sm", "data-field": name, "aria-label": name });
    if (allowEmpty) s.appendChild(el("option", { value: "", text: "(any)" }));
    values.forEach((v, i) => s.appendChild(el("option", { value: v, text: labels ? labels[i] : v })));
    return s;
  }

  function input(name, type, placeholder) {
    return el("input", { class: "form-control form-control-sm", type: type, "data-field": name,
      placeholder: placeholder, "aria-label": placeholder });
  }

  // A field path as the person sees it (mirrors blueprints/lists/labels.py):
  // criteria.all[0].minRevenue -> "Rule 1 › Minimum lifetime revenue".
  const FIELD_LABELS = {
    criteria: "Criteria", type: "Rule type", territory: "Territory",
    minRevenue: "Minimum lifetime revenue", skuId: "Wine", withinDays: "Within (days)",
    days: "Days without an order", customQuery: "Custom fields", accountType: "Account type",
    accountPriority: "Priority",
  };
  const GROUP_LABELS = { all: "Rule", any: "Alternative", not: "Except" };
  function fieldLabel(path) {
    const steps = path.split(".");
    const parts = [];
    steps.forEach((step, i) => {
      const m = /^([A-Za-z_]+)(?:\[(\d+)\])?$/.exec(step);
      if (!m) { parts.push(step); return; }
      const [, name, index] = m;
      if (name === "criteria" && i === 0 && steps.length > 1) return;
      if (GROUP_LABELS[name]) parts.push(index !== undefined ? `${GROUP_LABELS[name]} ${Number(index) + 1}` : GROUP_LABELS[name]);
      else parts.push(FIELD_LABELS[name] || name.replace(/([A-Z])/g, " $1").toLowerCase());
    });
    return parts.join(" › ") || "Criteria";
  }

  function fieldsFor(type) {
    switch (type) {
      case "all_in_territory": return [select("territory", options.territories)];
      case "high_value": return [input("minRevenue", "number", "min revenue")];
      case "ordered_product": return [
        select("skuId", options.skus.map((s) => s.id), options.skus.map((s) => s.name)),
        input("withinDays", "number", "within days (optional)")];
      case "no_order_in_days": return [input("days", "number", "days")];
      case "engagement_score": return [input("minScore", "number", "score 0-100")];
      case "engaged_in_days": return [input("days", "number", "days")];
      case "engagement_state": return [select("state", ["engaged", "at_risk", "sunset"],
        ["Engaged", "At risk", "Sunset"])];
      case "clicked_campaign": return [select("campaignId", options.campaigns.map((c) => c.id),
        options.campaigns.map((c) => c.name))];
      case "opened_not_ordered": return [input("days", "number", "days")];
      case "account_type": return [select("accountType", options.accountTypes)];
      case "account_priority": return [select("accountPriority", options.accountPriorities)];
      case "custom": return [
        select("accountPriority", options.accountPriorities, null, true),
        select("accountType", options.accountTypes, null, true),
        input("customKey", "text", "custom field"), input("customValue", "text", "value")];
      default: return [];
    }
  }

  function condition(container) {
    const typeSel = select("type", options.types, options.types.map((t) => LABELS[t] || t));
    typeSel.classList.add("criterion-type");
    const fields = el("div", { class: "d-flex gap-2 flex-grow-1 criterion-fields" });
    const negate = el("input", { type: "checkbox", class: "form-check-input", "data-field": "not", "aria-label": "not" });
    const remove = el("button", { type: "button", class: "btn btn-sm btn-outline-danger", text: "×", "aria-label": "remove" });
    const row = el("div", { class: "d-flex gap-2 align-items-center mb-2 criterion" }, [
      el("label", { class: "form-check-label small" }, [negate, document.createTextNode(" not")]),
      typeSel, fields, remove]);
    function refill() { fields.replaceChildren(...fieldsFor(typeSel.value)); changed(); }
    typeSel.addEventListener("change", refill);
    remove.addEventListener("click", () => { row.remove(); changed(); });
    container.appendChild(row);
    refill();
    return row;
  }

  function group(container, nested) {
    const op = select("op", ["all", "any"], ["all of", "any of"]);
    op.classList.add("group-op");
    const items = el("div", { class: "group-items ms-3" });
    const addCond = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", text: "Add condition" });
    const buttons = el("div", { class: "d-flex gap-2" }, [addCond]);
    const box = el("div", { class: "border rounded p-2 mb-2 group" }, [
      el("div", { class: "d-flex gap-2 align-items-center mb-2" }, [el("span", { text: "Match" }), op]),
      items, buttons]);
    addCond.addEventListener("click", () => condition(items));
    if (!nested) {
      const addGroup = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", text: "Add group" });
      addGroup.addEventListener("click", () => { group(items, true); changed(); });
      buttons.appendChild(addGroup);
    } else {
      const remove = el("button", { type: "button", class: "btn btn-sm btn-outline-danger", text: "Remove group" });
      remove.addEventListener("click", () => { box.remove(); changed(); });
      buttons.appendChild(remove);
    }
    op.addEventListener("change", changed);
    container.appendChild(box);
    condition(items);
    return box;
  }

  function value(row, name) {
    const f = row.querySelector(`.criterion-fields [data-field="${name}"]`);
    return f ? f.value.trim() : "";
  }

  function leaf(row) {
    const type = row.querySelector(".criterion-type").value;
    const out = { type: type };
    const num = (v) => (v === "" ? v : Number(v));
    switch (type) {
      case "all_in_territory": out.territory = value(row, "territory"); break;
      case "high_value": out.minRevenue = num(value(row, "minRevenue")); break;
      case "ordered_product":
        out.skuId = value(row, "skuId");
        if (value(row, "withinDays")) out.withinDays = num(value(row, "withinDays"));
        break;
      case "no_order_in_days": out.days = num(value(row, "days")); break;
      case "engagement_score": out.minScore = num(value(row, "minScore")); break;
      case "engaged_in_days": out.days = num(value(row, "days")); break;
      case "engagement_state": out.state = value(row, "state"); break;
      case "clicked_campaign": out.campaignId = value(row, "campaignId"); break;
      case "opened_not_ordered": out.days = num(value(row, "days")); break;
      case "account_type": out.accountType = value(row, "accountType"); break;
      case "account_priority": out.accountPriority = value(row, "accountPriority"); break;
      case "custom": {
        const q = {};
        ["accountPriority", "accountType"].forEach((k) => { if (value(row, k)) q[k] = value(row, k); });
        if (value(row, "customKey")) q[value(row, "customKey")] = value(row, "customValue");
        out.customQuery = q;
        break;
      }
    }
    return row.querySelector('[data-field="not"]').checked ? { not: out } : out;
  }

  function serialise(box) {
    const op = box.querySelector(".group-op").value;
    const items = [];
    box.querySelector(".group-items").childNodes.forEach((child) => {
      if (child.classList.contains("criterion")) items.push(leaf(child));
      else if (child.classList.contains("group")) items.push(serialise(child));
    });
    return { [op]: items };
  }

  let timer = null;
  let seq = 0;
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  }

  async function preview() {
    const rootBox = document.querySelector("#builder-root > .group");
    if (!rootBox || !smart.checked) return;
    const mine = ++seq;
    errorEl.textContent = "";
    let criteria;
    if (rawBox && !rawBox.classList.contains("d-none")) {
      try { criteria = JSON.parse(raw.value); } catch (err) {
        countEl.textContent = "—";
        errorEl.textContent = "criteria: not valid JSON";
        return;
      }
    } else {
      criteria = serialise(rootBox);
    }
    try {
      const response = await fetch(builder.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": builder.dataset.csrf },
        body: JSON.stringify({ criteria: criteria }),
      });
      const body = await response.json();
      if (mine !== seq) return;
      if (response.ok) {
        countEl.textContent = body.count.toLocaleString();
        sampleEl.replaceChildren(...body.sample.slice(0, 10).map((c) =>
          el("li", { text: `${c.name}${c.email ? " <" + c.email + ">" : ""}` })));
      } else {
        countEl.textContent = "—";
        const fields = (body.error && body.error.fields) || {};
        errorEl.textContent = Object.entries(fields).map(([k, v]) => `${fieldLabel(k)}: ${v}`).join("; ") ||
          (body.error && body.error.message) || "Preview failed";
      }
    } catch (err) {
      if (mine === seq) errorEl.textContent = "Preview failed: " + err;
    }
  }

  // Loading saved criteria (the edit page) back into the builder. The builder shows a
  // group of conditions (each may be negated) and groups of conditions inside it; anything
  // else written through the API is edited as JSON instead.
  const COMBINATORS = ["all", "any"];
  const combinator = (node) => COMBINATORS.find((k) => node && Array.isArray(node[k]));
  const isLeaf = (node) => node && typeof node.type === "string" &&
    (node.type !== "custom" || customKeys(node).length <= 1);
  const customKeys = (node) => Object.keys(node.customQuery || {})
    .filter((k) => k !== "accountPriority" && k !== "accountType");
  const condOk = (node) => isLeaf(node) || (node && isLeaf(node.not) && Object.keys(node).length === 1);
  function fits(node, nested) {
    const op = combinator(node);
    if (!op || Object.keys(node).length !== 1) return false;
    return node[op].every((child) => condOk(child) || (!nested && fits(child, true)));
  }

  function set(row, name, v) {
    const f = row.querySelector(`.criterion-fields [data-field="${name}"]`);
    if (f && v !== undefined && v !== null) f.value = String(v);
  }

  function fillCondition(row, node) {
    const negated = !!node.not;
    const leafNode = negated ? node.not : node;
    const typeSel = row.querySelector(".criterion-type");
    typeSel.value = leafNode.type;
    typeSel.dispatchEvent(new Event("change"));
    set(row, "territory", leafNode.territory);
    set(row, "minRevenue", leafNode.minRevenue);
    set(row, "skuId", leafNode.skuId);
    set(row, "withinDays", leafNode.withinDays);
    set(row, "days", leafNode.days);
    set(row, "minScore", leafNode.minScore);
    set(row, "state", leafNode.state);
    set(row, "campaignId", leafNode.campaignId);
    const q = leafNode.customQuery || {};
    set(row, "accountType", leafNode.accountType || q.accountType);
    set(row, "accountPriority", leafNode.accountPriority || q.accountPriority);
    const key = customKeys(leafNode)[0];
    if (key) { set(row, "customKey", key); set(row, "customValue", q[key]); }
    row.querySelector('[data-field="not"]').checked = negated;
  }

  function load(box, node) {
    const op = combinator(node);
    box.querySelector(".group-op").value = op;
    const items = box.querySelector(".group-items");
    items.replaceChildren();
    node[op].forEach((child) => {
      if (combinator(child)) load(group(items, true), child);
      else fillCondition(condition(items), child);
    });
  }

  const raw = document.getElementById("criteria-raw");
  const rawBox = document.getElementById("criteria-raw-box");
  function loadInitial() {
    if (!hidden.value) return;
    let node;
    try { node = JSON.parse(hidden.value); } catch (err) { node = null; }
    if (node && !combinator(node) && condOk(node)) node = { all: [node] };
    const rootBox = document.querySelector("#builder-root > .group");
    if (node && fits(node, false)) {
      load(rootBox, node);
    } else if (raw) {
      rootBox.classList.add("d-none");
      rawBox.classList.remove("d-none");
      raw.value = node ? JSON.stringify(node, null, 2) : hidden.value;
    }
  }

  function toggle() {
    builder.classList.toggle("d-none", !smart.checked);
    if (smart.checked) changed();
  }

  builder.addEventListener("input", changed);
  builder.addEventListener("change", changed);
  smart.addEventListener("change", toggle);
  form.addEventListener("submit", () => {
    const rootBox = document.querySelector("#builder-root > .group");
    if (rawBox && !rawBox.classList.contains("d-none")) hidden.value = raw.value;
    else hidden.value = smart.checked && rootBox ? JSON.stringify(serialise(rootBox)) : "";
  });
  group(document.getElementById("builder-root"), false);
  loadInitial();
  toggle();
})();
