// The login form: posts the credentials as JSON to the auth API, then goes where it was sent.
import { api, ApiError } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api(
      "POST",
      "/api/auth/login",
      {
        email: form.elements.email.value,
        password: form.elements.password.value,
      },
      { loginOn401: false },
    );
    location.assign(form.dataset.next);
  } catch (exc) {
    error.textContent = exc instanceof ApiError ? exc.message : "The server did not answer.";
    error.hidden = false;
    form.elements.password.select();
  } finally {
    button.disabled = false;
  }
});

// The page is wired: its controls answer from now on (the browser tests wait for this).
document.body.dataset.ready = "true";
