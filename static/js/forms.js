// What every form that goes out from the field shares: the position from the phone, and one
// tap one submission. Progressive only: without this file each form works, with no position.
//
// Position: a hidden button#locate-button (shown here), #locate-status for the words, and the
// hidden fields #lat and #lon. The button's data-done and data-failed say what happened.
// One submission: a form with data-once ignores a second submit while the first is sent; its
// submit button's data-sending, if any, replaces the button's words meanwhile.
(function () {
  "use strict";
  var locate = document.getElementById("locate-button");
  var status = document.getElementById("locate-status");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  if (locate && status && lat && lon && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = "正在获取位置……";
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        status.textContent = (locate.getAttribute("data-done") || "已记录位置") +
          "（精度约 " + Math.round(pos.coords.accuracy) + " 米）。";
      }, function () {
        lat.value = "";
        lon.value = "";
        status.textContent = locate.getAttribute("data-failed") || "未能获取位置。";
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sending) { event.preventDefault(); return; }
      form.dataset.sending = "1";
      var submit = form.querySelector("[type=submit][data-sending]");
      if (submit) {
        submit.setAttribute("aria-disabled", "true");
        submit.textContent = submit.getAttribute("data-sending");
      }
    });
  });
})();
