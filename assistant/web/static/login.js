// Sign in with POST /api/login, then go where the user was headed (same site only).
"use strict";
(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  function next() {
    const target = new URLSearchParams(location.search).get("next") || "/";
    return target.startsWith("/") && !target.startsWith("//") ? target : "/";
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
