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
}());
