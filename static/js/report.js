// Progressive enhancement of the report form. The form works fully without this file;
// the position and the one-tap guard are forms.js's.
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }

  // Character counter for the description.
  var description = document.getElementById("description");
  var counter = document.getElementById("description-count");
  if (description && counter) {
    var max = parseInt(description.getAttribute("maxlength"), 10);
    var min = parseInt(description.getAttribute("data-min"), 10);
    var update = function () {
      var n = Array.from(description.value).length;
      counter.textContent = n < min ? "已写 " + n + " 字，至少 " + min + " 字"
                                    : "已写 " + n + " 字，还可写 " + (max - n) + " 字";
    };
    description.addEventListener("input", update);
    update();
  }

  // Type to narrow the village list (county-wide it names every village with its township,
  // and names repeat). Without this script the list is a plain select.
  var village = document.getElementById("village");
  if (village && village.options.length > 6) {
    var filter = document.createElement("input");
    filter.type = "search";
    filter.id = "village-filter";
    filter.className = "village-filter";
    filter.placeholder = "输入村名或乡镇名筛选";
    filter.setAttribute("aria-label", "筛选村名");
    filter.setAttribute("aria-controls", "village");
    village.parentNode.insertBefore(filter, village);
    var options = Array.from(village.options);
    filter.addEventListener("input", function () {
      var needle = filter.value.trim();
      var first = null;
      options.forEach(function (option) {
        var shown = !option.value || !needle || option.text.indexOf(needle) !== -1;
        option.hidden = !shown;
        option.disabled = !shown;
        if (shown && option.value && first === null) { first = option; }
      });
      var chosen = village.options[village.selectedIndex];
      if (first !== null && (!chosen || chosen.hidden || !chosen.value)) {
        village.value = first.value;
      }
    });
  }

  // Urgent categories: repeat the 119 advice where the eye is.
  var notice = document.getElementById("urgent-notice");
  var radios = form.querySelectorAll("input[name=category]");
  var showUrgent = function () {
    var checked = form.querySelector("input[name=category]:checked");
    if (notice) { notice.hidden = !(checked && checked.hasAttribute("data-urgent")); }
  };
  radios.forEach(function (r) { r.addEventListener("change", showUrgent); });
  showUrgent();

  // Too many photos: say so before a slow upload starts.
  var photos = document.getElementById("photos");
  if (photos) {
    photos.addEventListener("change", function () {
      var allowed = parseInt(photos.getAttribute("data-max"), 10);
      photos.setCustomValidity(photos.files.length > allowed ? "最多还能选择 " + allowed + " 张照片" : "");
      photos.reportValidity();
    });
  }

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
