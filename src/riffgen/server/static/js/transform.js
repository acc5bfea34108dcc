// Transform: audio-to-audio with a prompt and a denoising strength.
import { $, appendDecoder, dataUrlToBlob, postForm, setStatus } from "./common.js";

let originalUrl = null;

export function initTransform() {
  const den = $("transform-denoising");
  den.addEventListener("input", () => { $("transform-denoising-out").textContent = Number(den.value).toFixed(2); });
  $("transform-file").addEventListener("change", () => {
    const file = $("transform-file").files[0];
    if (originalUrl) URL.revokeObjectURL(originalUrl);
    originalUrl = file ? URL.createObjectURL(file) : null;
    $("transform-original").src = originalUrl || "";
  });
  $("transform-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $("transform-file").files[0];
    const status = $("transform-status");
    if (!file) { setStatus(status, "Choose an audio file first", "error"); return; }
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("prompt", $("transform-prompt").value);
    form.append("denoising", den.value);
    form.append("seed", String(Math.max(0, Math.floor(Number($("transform-seed").value) || 0))));
    form.append("num_inference_steps", String(Math.max(1, Math.floor(Number($("transform-steps").value) || 30))));
    form.append("format", "wav");
    appendDecoder(form);
    const button = $("transform-go");
    button.disabled = true;
    setStatus(status, "Transforming…");
    try {
      const out = await postForm("/api/v1/audio_to_audio", form);
      $("transform-result").src = out.audio;
      const link = $("transform-download");
      link.href = URL.createObjectURL(dataUrlToBlob(out.audio));
      link.hidden = false;
      const img = $("transform-image");
      img.src = out.image;
      img.hidden = false;
      setStatus(status, `Done: ${out.duration_s.toFixed(2)} s in ${out.elapsed_s.toFixed(1)} s`, "ok");
    } catch (err) {
      setStatus(status, `Failed: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });
}
