// Sign in with POST /api/login, then go where the user was headed (same site only).
"use strict";
(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  // A path on this site: one leading "/", not "//" or "/\" (browsers read "\" as "/"), no
  // control characters (browsers drop tabs and newlines: "/\t/evil" is "//evil"), no scheme
  // or host, also once percent-decoded. The same rule as pages.safe_next on the server.
  function sameSitePath(target) {
    let decoded;
    try { decoded = decodeURIComponent(target); } catch { return false; }
    return [target, decoded].every((t) => /^\/(?![\/\\])/.test(t) && !/[\\\u0000-\u001f\u007f]/.test(t))
      && new URL(target, location.origin).origin === location.origin;
  }
  function next() {
    const target = new URLSearchParams(location.search).get("next") || "/";
    return sameSitePath(target) ? target : "/";
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    const response = await fetch("/api/login", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (response.ok) { location.href = next(); return; }
    const data = await response.json().catch(() => ({}));
    error.textContent = typeof data.detail === "string" ? data.detail : "Sign-in failed";
    error.hidden = false;
    form.password.select();
  });
})();
