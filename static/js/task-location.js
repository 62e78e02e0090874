// The inspection task page: fill the hidden position fields from the browser's position when
// the inspector allows it. Without this script, or without permission, the form still works
// and the unit's address is recorded instead.
(function () {
  var button = document.getElementById("task-locate");
  var lat = document.getElementById("task-lat");
  var lon = document.getElementById("task-lon");
  var status = document.getElementById("task-location");
  if (!button || !lat || !lon || !navigator.geolocation) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = "正在定位…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6);
      lon.value = pos.coords.longitude.toFixed(6);
      status.textContent = "已取得设备位置（仅工作人员可见）。";
    }, function () {
      lat.value = "";
      lon.value = "";
      status.textContent = status.getAttribute("data-fallback");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
}());
