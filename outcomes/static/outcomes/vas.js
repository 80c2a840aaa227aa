// Progressive enhancement: a slider for the 0-100 pain scale. The number box stays the real field, so the
// form works without JavaScript; the slider only mirrors it.
document.querySelectorAll("[data-vas-for]").forEach(function (slider) {
  var box = document.getElementById(slider.getAttribute("data-vas-for"));
  if (!box) { return; }
  slider.hidden = false;
  slider.closest(".vas").querySelector(".vas-anchors").hidden = false;
  if (box.value !== "") { slider.value = box.value; }
  slider.addEventListener("input", function () { box.value = slider.value; });
  box.addEventListener("input", function () { if (box.value !== "") { slider.value = box.value; } });
});
