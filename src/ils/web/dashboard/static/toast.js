// The page's toast: one short notice at a time (an error in red), gone after six seconds.
const toast = document.getElementById("toast");
let toastTimer = null;

export function notify(text, isError = false) {
  toast.textContent = text;
  toast.classList.toggle("toast-error", isError);
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toast.hidden = true), 6000);
}
