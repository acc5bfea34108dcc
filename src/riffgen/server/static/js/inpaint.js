// Inpaint: pick a time range (drag) or paint a mask on a clip's spectrogram; regenerate that part.
import { $, appendDecoder, dataUrlToBlob, decoder, loadImage, postForm, postJSON, setStatus } from "./common.js";

const st = { image: null, imageBlob: null, duration: 0, dragging: false, dragFrom: 0, mask: null, painting: false };

function mode() { return document.querySelector("input[name=inpaint-mode]:checked").value; }

function draw() {
  const c = $("inpaint-canvas"), g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  if (!st.image) {
    g.fillStyle = "#667"; g.font = "16px system-ui"; g.fillText("Load or generate a clip first", 16, 30);
    return;
  }
  g.drawImage(st.image, 0, 0, c.width, c.height);
  if (mode() === "range") {
    const a = Number($("inpaint-start").value), b = Number($("inpaint-end").value);
    const x0 = (Math.min(a, b) / st.duration) * c.width, x1 = (Math.max(a, b) / st.duration) * c.width;
    g.fillStyle = "rgba(255,138,61,0.35)";
    g.fillRect(x0, 0, x1 - x0, c.height);
    g.fillStyle = "#ff8a3d";
    g.fillRect(x0, 0, 2, c.height); g.fillRect(x1 - 2, 0, 2, c.height);
  } else if (st.mask) {
    g.globalAlpha = 0.45;
    g.drawImage(st.mask, 0, 0, c.width, c.height);
    g.globalAlpha = 1;
  }
}

function newMask() {
  const m = document.createElement("canvas");
  m.width = st.image ? st.image.naturalWidth : 512;
  m.height = st.image ? st.image.naturalHeight : 512;
  st.mask = m;
}

async function setClip(imageBlob, audioSrc, duration) {
  st.imageBlob = imageBlob;
  st.image = await loadImage(URL.createObjectURL(imageBlob));
  st.duration = duration;
  newMask();
  $("inpaint-before").src = audioSrc;
  $("inpaint-start").max = $("inpaint-end").max = duration.toFixed(2);
  $("inpaint-start").value = (duration * 0.3).toFixed(2);
  $("inpaint-end").value = (duration * 0.6).toFixed(2);
  $("inpaint-go").disabled = false;
  draw();
}

function timeAt(ev) {
  const c = $("inpaint-canvas"), r = c.getBoundingClientRect();
  return Math.max(0, Math.min(st.duration, ((ev.clientX - r.left) / r.width) * st.duration));
}

function paintMask(ev) {
  const c = $("inpaint-canvas"), r = c.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * st.mask.width;
  const y = ((ev.clientY - r.top) / r.height) * st.mask.height;
  const g = st.mask.getContext("2d");
  g.fillStyle = "#ff8a3d";
  g.beginPath();
  g.arc(x, y, st.mask.width / 40, 0, Math.PI * 2);
  g.fill();
  draw();
}

function maskBlob() {
  // The server wants white = repaint, black = keep, at the spectrogram's size.
  const out = document.createElement("canvas");
  out.width = st.mask.width; out.height = st.mask.height;
  const g = out.getContext("2d");
  g.fillStyle = "#000"; g.fillRect(0, 0, out.width, out.height);
  g.globalCompositeOperation = "lighter";
  g.filter = "grayscale(1) brightness(10)";
  g.drawImage(st.mask, 0, 0);
  return new Promise((res) => out.toBlob(res, "image/png"));
}

async function regenerate() {
  const status = $("inpaint-status");
  const form = new FormData();
  form.append("image", st.imageBlob, "clip.png");
  form.append("prompt", $("inpaint-prompt").value);
  // No num_inference_steps: the server uses its model's default.
  form.append("format", "wav");
  appendDecoder(form);
  if (mode() === "range") {
    const a = Number($("inpaint-start").value), b = Number($("inpaint-end").value);
    form.append("start_s", String(Math.min(a, b)));
    form.append("end_s", String(Math.max(a, b)));
  } else {
    form.append("mask", await maskBlob(), "mask.png");
  }
  $("inpaint-go").disabled = true;
  setStatus(status, "Regenerating the selection…");
  try {
    const out = await postForm("/api/v1/inpaint", form);
    $("inpaint-after").src = out.audio;
    const link = $("inpaint-download");
    link.href = URL.createObjectURL(dataUrlToBlob(out.audio));
    link.hidden = false;
    const keep = $("inpaint-keep");
    keep.hidden = false;
    keep.onclick = () => setClip(dataUrlToBlob(out.image), out.audio, out.duration_s);
    setStatus(status, `Done in ${out.elapsed_s.toFixed(1)} s`, "ok");
  } catch (err) {
    setStatus(status, `Failed: ${err.message}`, "error");
  } finally {
    $("inpaint-go").disabled = false;
  }
}

export function initInpaint() {
  const c = $("inpaint-canvas");
  draw();
  $("inpaint-file").addEventListener("change", async () => {
    const file = $("inpaint-file").files[0];
    if (!file) return;
    const status = $("inpaint-status");
    setStatus(status, "Reading the audio…");
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      const resp = await postForm("/api/v1/audio_to_image", form, { raw: true });
      const duration = Number(resp.headers.get("X-Duration-S"));
      await setClip(await resp.blob(), URL.createObjectURL(file), duration);
      setStatus(status, `${duration.toFixed(2)} s loaded: drag across the picture to select`, "ok");
    } catch (err) {
      setStatus(status, `Failed: ${err.message}`, "error");
    }
  });
  $("inpaint-generate").addEventListener("click", async () => {
    const status = $("inpaint-status");
    setStatus(status, "Generating a clip…");
    try {
      const out = await postJSON("/api/v1/text_to_audio", {
        prompt: $("inpaint-prompt").value || "drum beat", width: 512, format: "wav",
        decoder: decoder() || null });
      await setClip(dataUrlToBlob(out.image), out.audio, out.duration_s);
      setStatus(status, "Clip ready: drag across the picture to select a part", "ok");
    } catch (err) {
      setStatus(status, `Failed: ${err.message}`, "error");
    }
  });
  c.addEventListener("pointerdown", (ev) => {
    if (!st.image) return;
    c.setPointerCapture(ev.pointerId);
    if (mode() === "range") { st.dragging = true; st.dragFrom = timeAt(ev); }
    else { st.painting = true; paintMask(ev); }
  });
  c.addEventListener("pointermove", (ev) => {
    if (st.dragging) {
      const t = timeAt(ev);
      $("inpaint-start").value = Math.min(st.dragFrom, t).toFixed(2);
      $("inpaint-end").value = Math.max(st.dragFrom, t).toFixed(2);
      draw();
    } else if (st.painting) paintMask(ev);
  });
  const end = () => { st.dragging = false; st.painting = false; };
  c.addEventListener("pointerup", end);
  c.addEventListener("pointercancel", end);
  for (const id of ["inpaint-start", "inpaint-end"]) $(id).addEventListener("input", draw);
  for (const r of document.querySelectorAll("input[name=inpaint-mode]")) r.addEventListener("change", draw);
  $("inpaint-clear-mask").addEventListener("click", () => { newMask(); draw(); });
  $("inpaint-go").addEventListener("click", regenerate);
}
