// Sample web application (workloads/sample-web): served from /static/app.js.
// Counts the characters left in the note field; the page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const field = document.querySelector("textarea[name=text]");
  const left = document.getElementById("left");
  if (!field || !left) return;
  const max = Number(field.getAttribute("maxlength")) || 0;
  const update = () => { left.textContent = String(max - field.value.length); };
  field.addEventListener("input", update);
  update();
});
