// The email designer: GrapesJS with its MJML preset, served by the app (never a CDN).
// Nothing is fetched from the network: no storage, no telemetry, no icon font, no web
// fonts in the canvas, images and icons from this site. Saving posts the MJML; the
// server compiles it (MRML) and says on which line if it cannot.
(function () {
  "use strict";

  var STARTER =
    '<mjml><mj-body background-color="#f4f1ee">' +
    '<mj-section background-color="#ffffff"><mj-column>' +
    '<mj-text font-size="20px" color="#722f37">Hello {{ customer_name }},</mj-text>' +
    "<mj-text>Drag blocks here from the panel on the right.</mj-text>" +
    "</mj-column></mj-section></mj-body></mjml>";

  function escapeHtml(value) {
    return String(value == null ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function socialBlock(icons) {
    var element = function (name, label) {
      return '<mj-social-element name="' + name + '" src="' + icons + name + '.png" ' +
        'href="https://www.' + name + '.com/">' + label + "</mj-social-element>";
    };
    return '<mj-social font-size="12px" icon-size="24px" mode="horizontal">' +
      element("facebook", "Facebook") + element("instagram", "Instagram") +
      element("linkedin", "LinkedIn") + "</mj-social>";
  }

  // A wine from the catalogue: image, name, vintage, tasting note, price and a button.
  function wineFeature(sku, placeholder) {
    var name = sku ? sku.name : "Wine name";
    var vintage = sku && sku.vintage ? String(sku.vintage) : "NV";
    var note = sku
      ? [sku.varietal, sku.producer, sku.region].filter(Boolean).join(" · ")
      : "Tasting note";
    var price = sku ? "$" + sku.price : "$0.00";
    return '<mj-section background-color="#ffffff" css-class="wine-feature">' +
      '<mj-column width="40%"><mj-image src="' + escapeHtml(placeholder) +
      '" alt="' + escapeHtml(name) + '"></mj-image></mj-column>' +
      '<mj-column width="60%">' +
      '<mj-text font-size="20px" color="#722f37" font-weight="bold">' + escapeHtml(name) +
      "</mj-text>" +
      '<mj-text font-size="14px" color="#555555">Vintage ' + escapeHtml(vintage) + "</mj-text>" +
      "<mj-text>" + escapeHtml(note) + "</mj-text>" +
      '<mj-text font-size="18px" font-weight="bold">' + escapeHtml(price) + "</mj-text>" +
      '<mj-button background-color="#722f37" href="mailto:?subject=' +
      encodeURIComponent("Reserve " + name + " " + vintage) + '">Reserve</mj-button>' +
      "</mj-column></mj-section>";
  }

  function loadCatalogue(select, onChoose) {
    fetch(select.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (page) {
        var skus = {};
        select.innerHTML = "";
        var none = document.createElement("option");
        none.value = "";
        none.textContent = page.items.length ? "— choose a wine —" : "— the catalogue is empty —";
        select.appendChild(none);
        page.items.forEach(function (sku) {
          skus[sku.id] = sku;
          var option = document.createElement("option");
          option.value = sku.id;
          option.textContent = sku.name + (sku.vintage ? " " + sku.vintage : "");
          select.appendChild(option);
        });
        select.addEventListener("change", function () { onChoose(skus[select.value] || null); });
      });
  }

  // The panels' buttons use an icon font GrapesJS would fetch from a CDN: words instead.
  var BUTTON_LABELS = {
    "open-sm": "Style", "open-tm": "Settings", "open-layers": "Layers", "open-blocks": "Blocks",
    "sw-visibility": "Outlines", "preview": "Preview", "fullscreen": "Full screen",
    "export-template": "MJML", "undo": "Undo", "redo": "Redo"
  };

  function labelButtons(editor) {
    editor.Panels.getPanels().forEach(function (panel) {
      panel.get("buttons").forEach(function (button) {
        var label = BUTTON_LABELS[button.id];
        if (!label && button.get("label")) return;  // already has its own (the devices)
        if (!label && !button.get("className")) return;
        button.set({ className: "designer-button", label: label || button.id,
          attributes: { title: label || button.id, "aria-label": label || button.id } });
      });
    });
  }

  function start() {
    var root = document.getElementById("designer");
    var form = document.getElementById("designer-form");
    if (!root || !form || !window.grapesjs) return;
    var source = document.getElementById("designer-mjml");
    var placeholder = root.dataset.placeholder;
    var icons = root.dataset.icons;
    var mjml = window["grapesjs-mjml"];
    var mjmlPlugin = mjml && mjml.default ? mjml.default : mjml;
    var options = {
      blocks: ["mj-1-column", "mj-2-columns", "mj-3-columns", "mj-text", "mj-image",
        "mj-button", "mj-divider", "mj-social-group", "mj-spacer"],
      imagePlaceholderSrc: placeholder,
      fonts: {},
      block: function (id) {
        return id === "mj-social-group" ? { content: socialBlock(icons) } : {};
      }
    };
    var editor = window.grapesjs.init({
      container: root,
      height: "72vh",
      fromElement: false,
      components: (source.value || "").trim() || STARTER,
      storageManager: false,
      telemetry: false,
      cssIcons: "",
      assetManager: { upload: false, embedAsBase64: false, assets: [placeholder] },
      canvas: { styles: [], scripts: [] },
      plugins: [function (ed) { mjmlPlugin(ed, options); }]
    });
    var wineBlock = {
      label: "Wine feature",
      category: "Decant",
      attributes: { "data-testid": "block-wine-feature" },
      media: '<svg viewBox="0 0 24 24"><path fill="currentColor" d="M7 2h10v6a5 5 0 0 1-4 4.9V20h3v2H8v-2h3v-7.1A5 5 0 0 1 7 8z"/></svg>',
      content: wineFeature(null, placeholder)
    };
    editor.Blocks.add("wine-feature", wineBlock);
    // Filled from the catalogue when a recurring campaign's occurrence is created (the
    // rule is the recurring campaign's: newest, on special, a varietal).
    editor.Blocks.add("featured-wines", {
      label: "Featured wines",
      category: "Decant",
      attributes: { "data-testid": "block-featured-wines" },
      media: wineBlock.media,
      content: '<mj-section background-color="#ffffff" css-class="featured-wines">' +
        "<mj-column><mj-text>{{ featured_wines }}</mj-text></mj-column></mj-section>"
    });
    loadCatalogue(document.getElementById("designer-sku"), function (sku) {
      editor.Blocks.get("wine-feature").set("content", wineFeature(sku, placeholder));
    });
    editor.on("load", function () {
      labelButtons(editor);
      var blocks = editor.Panels.getButton("views", "open-blocks");
      if (blocks) blocks.set("active", true);  // the blocks panel open from the start
      root.dataset.ready = "true";
    });
    window.decantDesigner = editor;  // for people debugging in the console
    form.addEventListener("submit", function () {
      source.value = editor.getHtml();
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
