// promptpix console: progress while generating, copy buttons, drag-and-drop upload, the focal-point editor.
"use strict";

function copyText(text, button) {
  const done = () => { const old = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = old; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text) && done());
  } else if (fallbackCopy(text)) { done(); }
}

function fallbackCopy(text) {
  const area = document.createElement("textarea");
  area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
  document.body.appendChild(area); area.select();
  let ok = false; try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  area.remove(); return ok;
}

function setUpCopy() {
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", () => copyText(document.getElementById(button.dataset.copy).textContent, button));
  });
}

function setUpProgress() {
  document.querySelectorAll("form[data-progress]").forEach((form) => {
    form.addEventListener("submit", () => {
      document.getElementById(form.dataset.progress).hidden = false;
      form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
    });
  });
  document.querySelectorAll("select[data-reload]").forEach((select) => {
    select.addEventListener("change", () => { window.location = select.dataset.reload + encodeURIComponent(select.value); });
  });
}

function setUpUpload() {
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("upload-file");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const send = (file) => {
    const data = new FormData();
    data.append("csrf", form.elements.csrf.value);
    data.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false; bar.value = 0; status.textContent = "Uploading " + file.name + "…";
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total); });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100; status.textContent = "Uploaded. Opening the library…";
        window.location.reload();
      } else { status.textContent = "Upload refused (" + xhr.status + "): " + xhr.responseText; }
    });
    xhr.addEventListener("error", () => { status.textContent = "Upload failed: the service could not be reached."; });
    xhr.send(data);
  };
  input.addEventListener("change", () => { if (input.files.length) send(input.files[0]); });
  ["dragenter", "dragover"].forEach((t) => form.addEventListener(t, (e) => { e.preventDefault(); form.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => form.addEventListener(t, (e) => { e.preventDefault(); form.classList.remove("over"); }));
  form.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]); });
}

function setUpFocal() {
  const editor = document.getElementById("focal-editor");
  if (!editor) return;
  const image = document.getElementById("master");
  const marker = document.getElementById("focal-marker");
  const fx = document.getElementById("focal_x");
  const fy = document.getElementById("focal_y");
  const place = (x, y, preview) => {
    marker.style.left = (100 * x) + "%"; marker.style.top = (100 * y) + "%";
    fx.value = x.toFixed(3); fy.value = y.toFixed(3);
    if (!preview) return;
    // Only crops that cut at the focal point (fit=crop, no crop=attention/entropy) take fp-x/fp-y; the rest keep their image.
    document.querySelectorAll("img.crop[data-base]").forEach((crop) => {
      crop.src = crop.dataset.base + "&fp-x=" + x.toFixed(3) + "&fp-y=" + y.toFixed(3);
    });
  };
  place(parseFloat(editor.dataset.x), parseFloat(editor.dataset.y), false);
  image.addEventListener("click", (e) => {
    const box = image.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    place(clamp((e.clientX - box.left) / box.width), clamp((e.clientY - box.top) / box.height), true);
  });
  image.addEventListener("keydown", (e) => {  // arrow keys move the point, for keyboard users
    const steps = { ArrowLeft: [-0.05, 0], ArrowRight: [0.05, 0], ArrowUp: [0, -0.05], ArrowDown: [0, 0.05] };
    if (!steps[e.key]) return;
    e.preventDefault();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    place(clamp(parseFloat(fx.value) + steps[e.key][0]), clamp(parseFloat(fy.value) + steps[e.key][1]), true);
  });
  [fx, fy].forEach((input) => input.addEventListener("change", () => place(parseFloat(fx.value), parseFloat(fy.value), true)));
}

document.addEventListener("DOMContentLoaded", () => { setUpCopy(); setUpProgress(); setUpUpload(); setUpFocal(); });
