// Progressive enhancement: a slider for the pain scale. The number box stays the real field, so the form works
// without JavaScript; the slider only mirrors it. Until the patient chooses, the slider shows no thumb: a thumb
// resting in the middle would look like an answer.
document.querySelectorAll("[data-vas-for]").forEach(function (slider) {
  var box = document.getElementById(slider.getAttribute("data-vas-for"));
  if (!box) { return; }
  slider.hidden = false;
  slider.closest(".vas").querySelector(".vas-anchors").hidden = false;
  function show(value) {
    if (value === "") { slider.classList.add("vas-unset"); return; }
    slider.classList.remove("vas-unset");
    slider.value = value;
  }
  show(box.value);
  slider.addEventListener("input", function () { slider.classList.remove("vas-unset"); box.value = slider.value; });
  box.addEventListener("input", function () { show(box.value); });
});
