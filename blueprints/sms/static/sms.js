/* Live SMS segment counter: mirrors providers/sms/segments.py (GSM-7 / UCS-2 rules). */
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";

  function count(costs, single, part) {
    var total = costs.reduce(function (a, b) { return a + b; }, 0);
    if (total === 0) { return 0; }
    if (total <= single) { return 1; }
    var segments = 1, used = 0;
    costs.forEach(function (cost) {
      if (used + cost > part) { segments += 1; used = 0; }
      used += cost;
    });
    return segments;
  }

  function segmentInfo(body) {
    var chars = Array.from(body);
    var gsm = chars.every(function (ch) { return BASIC.indexOf(ch) >= 0 || EXTENSION.indexOf(ch) >= 0; });
    var costs;
    if (gsm) {
      costs = chars.map(function (ch) { return EXTENSION.indexOf(ch) >= 0 ? 2 : 1; });
      return { encoding: "GSM-7", segments: count(costs, 160, 153), characters: chars.length };
    }
    costs = chars.map(function (ch) { return ch.codePointAt(0) > 0xFFFF ? 2 : 1; });
    return { encoding: "UCS-2", segments: count(costs, 70, 67), characters: chars.length };
  }

  window.decantSegmentInfo = segmentInfo;

  document.querySelectorAll("[data-sms-counter]").forEach(function (counter) {
    var area = document.getElementById(counter.getAttribute("data-sms-counter"));
    if (!area) { return; }
    function update() {
      var info = segmentInfo(area.value);
      counter.textContent = info.characters + " characters · " + info.segments +
        " segment" + (info.segments === 1 ? "" : "s") + " · " + info.encoding;
      counter.classList.toggle("text-danger", info.segments > 10);
    }
    area.addEventListener("input", update);
    update();
  });

  // Template picker: loads the template's text into the box, asking first when that would
  // replace text the person typed. Editing the loaded text makes it their own message, so
  // the picker goes back to "write a message" (the server refuses typed text + template).
  document.querySelectorAll("select[data-sms-templates]").forEach(function (select) {
    var area = document.getElementById(select.getAttribute("data-sms-target"));
    var texts = JSON.parse(select.getAttribute("data-sms-templates") || "{}");
    if (!area) { return; }
    var previous = select.value;
    function loaded() { return select.value ? (texts[select.value] || "").trim() : null; }
    select.addEventListener("change", function () {
      if (!select.value) { previous = ""; return; }  // back to "write a message": keep the text
      var typed = area.value.trim();
      var label = select.options[select.selectedIndex].text;
      var untouched = typed === "" || typed === (texts[previous] || "").trim();
      if (!untouched && !window.confirm("Replace the text you typed with the template “" +
          label + "”?")) {
        select.value = previous;
        return;
      }
      area.value = texts[select.value] || "";
      previous = select.value;
      area.dispatchEvent(new Event("input"));
    });
    area.addEventListener("input", function () {
      if (select.value && area.value.trim() !== loaded()) {
        select.value = "";
        previous = "";
      }
    });
  });
}());
