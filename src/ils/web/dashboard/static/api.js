// Talking to the ILS API from the dashboard: JSON in and out, the CSRF header on every write,
// and errors turned into one readable sentence (FastAPI's field errors name the field).

export const LOGIN_URL = "/admin/login";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The session's CSRF token lives in a cookie the page may read; writes echo it in a header.
function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("ils_csrf="));
  return found ? decodeURIComponent(found.slice("ils_csrf=".length)) : "";
}

function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  return "";
}

export function goToLogin() {
  const next = encodeURIComponent(location.pathname);
  location.assign(`${LOGIN_URL}?next=${next}`);
}

// A 401 means the session ended: off to the login form, unless the caller is that form.
export async function api(method, path, body, { loginOn401 = true } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && loginOn401) {
    goToLogin();
    throw new ApiError(401, "not logged in");
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const message = describe(data && data.detail) || response.statusText;
    throw new ApiError(response.status, message);
  }
  return data;
}
