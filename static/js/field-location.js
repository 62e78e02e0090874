// Progressive enhancement of the field filing form: the position from the phone, when the
// inspector allows it. The form works fully without this file (no position is recorded).
(function () {
  "use strict";
  var form = document.getElementById("field-form");
  var locate = document.getElementById("locate-button");
  var status = document.getElementById("locate-status");
  if (!form || !locate || !status || !navigator.geolocation) { return; }
  locate.hidden = false;
  locate.addEventListener("click", function () {
    status.textContent = "正在获取位置……";
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
      document.getElementById("lon").value = pos.coords.longitude.toFixed(6);
      status.textContent = "已记录位置（精度约 " + Math.round(pos.coords.accuracy) + " 米）。";
    }, function () {
      status.textContent = "未能获取位置，可不记录位置直接上报，或填写地址。";
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
  // One tap, one filing: a second tap while sending does nothing.
  form.addEventListener("submit", function (event) {
    if (form.dataset.sending) { event.preventDefault(); return; }
    form.dataset.sending = "1";
  });
})();
