/*
 * Shipshape operations dashboard. Plain JavaScript, no build step, no framework.
 *
 * The page has no data of its own: it calls the ops API with the operator's ID token. The
 * operator signs in through the user pool's domain (the authorization code grant with PKCE,
 * S256), the tokens are kept in sessionStorage (so they end with the tab), the ID token is
 * refreshed with the refresh token before it expires, and signing out ends the session at
 * the domain too. The domain and app client come from the page's <meta name="shipshape-auth">
 * (an empty domain: this origin, as the embedded runtime serves it). Every value from the API reaches the page through
 * textContent or an attribute, never through HTML parsing, and the page allows no inline
 * script or style (Content-Security-Policy). API paths are relative to the page, so the
 * dashboard works under any stage prefix.
 */
(function () {
  "use strict";

  const SESSION_KEY = "shipshape.session"; // {idToken, refreshToken, expiresAt}
  const PKCE_KEY = "shipshape.pkce"; // {verifier, state}: between leaving to sign in and back
  const SCOPES = "openid email profile";
  // Refresh this long before the ID token ends (Cognito's last an hour), or at half its life.
  const REFRESH_MARGIN_MS = 5 * 60 * 1000;
  const CLIENT_KEY = "shipshape.client";
  const METRIC_DAYS = 30;
  const ACTING_ROLES = ["operator", "lead"];
  const NO_DATA = "—";

  const state = {
    token: null,
    refreshTimer: null,
    me: null, // {subject, roles, clients}; null when GET /me failed
    client: null,
    queue: [],
    queueSeq: 0,
    metricsSeq: 0,
    checklistSeq: 0,
    timelineOrder: null,
    timelineSeq: 0,
    resolving: null, // the exception the resolve dialog is for
    resolvingOrder: null, // its order, for the address the correction starts from
    charts: {},
  };

  // --- small DOM helpers: text only, never HTML ------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function byTestId(id) {
    return document.querySelector(`[data-testid="${id}"]`);
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function setText(testId, value) {
    byTestId(testId).textContent = value === null || value === undefined ? NO_DATA : String(value);
  }

  function busy(panel, on) {
    if (on) panel.setAttribute("aria-busy", "true");
    else panel.removeAttribute("aria-busy");
  }

  function truncate(text, length) {
    const value = String(text);
    return value.length > length ? value.slice(0, length - 1) + "…" : value;
  }

  // --- formatting ------------------------------------------------------------------------

  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
  const dayFormat = new Intl.DateTimeFormat(undefined, {
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  });

  function timeEl(iso) {
    if (!iso) return el("span", { text: NO_DATA });
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return el("span", { text: String(iso) });
    return el("time", { datetime: String(iso), title: String(iso), text: dateTimeFormat.format(moment) });
  }

  function isNumber(value) {
    return typeof value === "number" && Number.isFinite(value);
  }

  function fmtCount(value) {
    return isNumber(value) ? value.toLocaleString() : NO_DATA;
  }

  function fmtHours(hours) {
    if (!isNumber(hours)) return NO_DATA;
    if (hours < 1) return `${Math.round(hours * 60)} min`;
    return `${hours.toFixed(hours < 10 ? 1 : 0)} h`;
  }

  function fmtSeconds(seconds) {
    if (!isNumber(seconds)) return NO_DATA;
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
    return fmtHours(seconds / 3600);
  }

  function fmtPercent(rate) {
    if (!isNumber(rate)) return NO_DATA;
    return `${(rate * 100).toFixed(1)} %`;
  }

  function fmtValue(value) {
    if (value === null || value === undefined) return "";
    if (Array.isArray(value)) return value.map(fmtValue).join(", ");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function detailSummary(detail) {
    return Object.entries(detail || {})
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([key, value]) => `${key}: ${fmtValue(value)}`)
      .join("; ");
  }

  // --- the API ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function describe(error) {
    if (error instanceof ApiError) {
      if (!error.status) return error.message;
      const code = error.code ? `${error.code}, ` : "";
      return `${error.message} (${code}HTTP ${error.status})`;
    }
    return String((error && error.message) || error);
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  function segment(value) {
    return encodeURIComponent(String(value));
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${state.token}` };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, "NetworkError", `The ops API could not be reached (${describe(error)}).`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const code = data && typeof data.error === "string" ? data.error : "";
      const message =
        data && typeof data.message === "string" && data.message
          ? data.message
          : truncate(text || response.statusText || "request failed", 300);
      throw new ApiError(response.status, code, message);
    }
    return data;
  }

  /** Show a failed call where it happened; a refused token ends the session instead. */
  function fail(errorTestId, error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut("The API no longer accepts your token (HTTP 401). Sign in again.");
      return;
    }
    const node = byTestId(errorTestId);
    node.textContent = describe(error);
    node.hidden = false;
  }

  function clearError(errorTestId) {
    const node = byTestId(errorTestId);
    node.textContent = "";
    node.hidden = true;
  }

  let toastTimer = null;
  function toast(message, isError) {
    const node = byTestId("toast");
    node.textContent = message;
    node.classList.toggle("error", Boolean(isError));
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      node.hidden = true;
    }, 6000);
  }

  // --- who is signed in ------------------------------------------------------------------

  function roles() {
    return state.me ? state.me.roles : [];
  }

  function isLead() {
    // Without a profile, show the actions: the API decides anyway.
    return state.me === null || roles().includes("lead");
  }

  function mayAct() {
    return state.me === null || roles().some((role) => ACTING_ROLES.includes(role));
  }

  function subject() {
    return state.me ? state.me.subject : null;
  }

  function profileFrom(data) {
    const list = (value) => (Array.isArray(value) ? value.map(String) : []);
    return {
      subject: data && data.subject ? String(data.subject) : "",
      roles: list(data && data.roles),
      clients: list(data && data.clients).filter((client) => client !== "*"),
    };
  }

  function showSignIn(message) {
    for (const node of document.querySelectorAll('[data-when="signed-in"]')) node.hidden = true;
    byId("sign-in").hidden = false;
    const error = byTestId("sign-in-error");
    error.textContent = message || "";
    error.hidden = !message;
    byId("sign-in-button").focus();
  }

  // --- signing in: the authorization code grant with PKCE --------------------------------

  function authSettings() {
    const meta = document.querySelector('meta[name="shipshape-auth"]');
    const domain = (meta && meta.dataset.domain) || window.location.origin;
    return {
      domain: domain.replace(/\/+$/, ""),
      clientId: (meta && meta.dataset.clientId) || "",
      // The page itself, as the app client's callback and sign-out URLs name it.
      redirectUri: window.location.origin + window.location.pathname,
    };
  }

  function base64url(bytes) {
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomText(size) {
    return base64url(crypto.getRandomValues(new Uint8Array(size)));
  }

  async function startSignIn() {
    const auth = authSettings();
    const verifier = randomText(48); // 64 characters, within RFC 7636's 43 to 128
    const stateValue = randomText(24);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state: stateValue }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: auth.clientId,
      redirect_uri: auth.redirectUri,
      scope: SCOPES,
      state: stateValue,
      code_challenge: base64url(new Uint8Array(digest)),
      code_challenge_method: "S256",
    });
    window.location.assign(`${auth.domain}/oauth2/authorize?${query}`);
  }

  /** POST to the token endpoint; the answer's tokens, or null when it refused. */
  async function tokenRequest(fields) {
    const auth = authSettings();
    let response;
    try {
      response = await fetch(`${auth.domain}/oauth2/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ client_id: auth.clientId, ...fields }),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      return null;
    }
    if (!response.ok) return null;
    const data = await response.json().catch(() => null);
    return data && typeof data.id_token === "string" ? data : null;
  }

  function readSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
      return session && typeof session.idToken === "string" ? session : null;
    } catch (error) {
      return null;
    }
  }

  /** Keep the tokens of an answer and schedule the refresh before the ID token ends. */
  function keepSession(tokens, refreshToken) {
    const lifetime = Math.max(1, Number(tokens.expires_in) || 3600) * 1000;
    const session = {
      idToken: tokens.id_token,
      refreshToken: tokens.refresh_token || refreshToken || "",
      // By this browser's clock: the expires_in of the answer, never the token's own exp.
      expiresAt: Date.now() + lifetime,
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    state.token = session.idToken;
    scheduleRefresh(session);
    return session;
  }

  function scheduleRefresh(session) {
    clearTimeout(state.refreshTimer);
    const left = session.expiresAt - Date.now();
    const wait = Math.max(0, Math.min(left - REFRESH_MARGIN_MS, left / 2));
    state.refreshTimer = setTimeout(refreshSession, wait);
  }

  async function refreshSession() {
    const session = readSession();
    if (!session || !session.refreshToken) {
      signOut("Your session has ended. Sign in again.");
      return;
    }
    const tokens = await tokenRequest({
      grant_type: "refresh_token",
      refresh_token: session.refreshToken,
    });
    if (!tokens) {
      signOut("Your session has ended. Sign in again.");
      return;
    }
    keepSession(tokens, session.refreshToken);
  }

  /** Back from the domain with ?code=...&state=...: exchange the code for tokens. */
  async function finishSignIn(params) {
    const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    window.history.replaceState(null, "", window.location.pathname);
    if (params.get("error")) {
      showSignIn(`Sign-in failed: ${truncate(params.get("error_description") || params.get("error"), 200)}`);
      return;
    }
    if (!pending || !pending.verifier || pending.state !== params.get("state")) {
      showSignIn("That sign-in did not start here (its state does not match). Sign in again.");
      return;
    }
    const tokens = await tokenRequest({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: authSettings().redirectUri,
      code_verifier: pending.verifier,
    });
    if (!tokens) {
      showSignIn("The sign-in could not be completed (the code was refused). Sign in again.");
      return;
    }
    keepSession(tokens);
    await signIn(false);
  }

  async function signIn(fromStorage) {
    let me = null;
    let profileError = null;
    try {
      me = await api("GET", "me");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        forgetSession();
        showSignIn(
          fromStorage
            ? "Your session has ended. Sign in again."
            : "The API did not accept your sign-in (HTTP 401). Sign in again."
        );
        return;
      }
      profileError = error;
    }
    state.me = me ? profileFrom(me) : null;
    enterDashboard(profileError);
  }

  function forgetSession() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = null;
    sessionStorage.removeItem(SESSION_KEY);
    state.token = null;
  }

  /** Sign out here and at the domain, which sends the browser back to this page; the
   * refresh token is revoked first, so no copy of it can renew the session. */
  async function signOutEverywhere() {
    const session = readSession();
    signOut("You are signed out.");
    const auth = authSettings();
    if (session && session.refreshToken) {
      try {
        await fetch(`${auth.domain}/oauth2/revoke`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: session.refreshToken, client_id: auth.clientId }),
          cache: "no-store",
          credentials: "omit",
        });
      } catch (error) {
        // Signed out here regardless; the refresh token ends on its own (RefreshTokenValidity).
      }
    }
    const query = new URLSearchParams({ client_id: auth.clientId, logout_uri: auth.redirectUri });
    window.location.assign(`${auth.domain}/logout?${query}`);
  }

  function signOut(message) {
    forgetSession();
    state.me = null;
    state.client = null;
    state.queue = [];
    state.timelineOrder = null;
    for (const chart of Object.values(state.charts)) chart.destroy();
    state.charts = {};
    byId("queue-body").replaceChildren();
    byId("timeline-body").replaceChildren();
    byId("checklist-items").replaceChildren();
    byId("rules-list").replaceChildren();
    byId("timeline-panel").hidden = true;
    const dialog = byId("resolve-dialog");
    if (dialog.open) dialog.close();
    showSignIn(message);
  }

  function enterDashboard(profileError) {
    byId("sign-in").hidden = true;
    for (const node of document.querySelectorAll('[data-when="signed-in"]')) node.hidden = false;
    byTestId("operator").textContent = state.me
      ? `${state.me.subject}${state.me.roles.length ? " · " + state.me.roles.join(", ") : ""}`
      : "";

    const select = byId("client-select");
    const input = byId("client-input");
    const saved = sessionStorage.getItem(CLIENT_KEY);
    const banner = byTestId("profile-error");
    if (state.me && state.me.clients.length) {
      banner.hidden = true;
      select.replaceChildren(
        ...state.me.clients.map((client) => el("option", { value: client, text: client }))
      );
      select.hidden = false;
      input.hidden = true;
      state.client = saved && state.me.clients.includes(saved) ? saved : state.me.clients[0];
      select.value = state.client;
    } else {
      // Degrade: without the profile the operator names the client; the API still checks it.
      select.hidden = true;
      input.hidden = false;
      input.value = saved || "";
      state.client = saved || null;
      banner.textContent = profileError
        ? `Your profile could not be loaded (GET /me): ${describe(profileError)}. ` +
          "Type a client id in the top bar to continue."
        : "Your profile names no clients. Type a client id in the top bar to continue.";
      banner.hidden = false;
    }
    loadAll();
  }

  function chooseClient(client) {
    const value = (client || "").trim();
    if (!value || value === state.client) return;
    state.client = value;
    sessionStorage.setItem(CLIENT_KEY, value);
    byId("timeline-panel").hidden = true;
    state.timelineOrder = null;
    loadClientPanels();
  }

  function loadAll() {
    loadClientPanels();
    loadRuleChanges();
  }

  function loadClientPanels() {
    loadQueue();
    loadMetrics();
    loadChecklist();
  }

  // --- exception queue -------------------------------------------------------------------

  async function loadQueue() {
    const panel = byId("queue-panel");
    const seq = ++state.queueSeq;
    if (!state.client) {
      renderQueue([]);
      return;
    }
    const filter = byId("queue-status").value;
    const statuses = filter === "unresolved" ? ["OPEN", "CLAIMED"] : [filter];
    busy(panel, true);
    try {
      const answers = await Promise.all(
        statuses.map((status) =>
          api("GET", "exceptions" + query({ client: state.client, status }))
        )
      );
      if (seq !== state.queueSeq) return;
      clearError("queue-error");
      const rows = answers.flatMap((answer) => (answer && answer.exceptions) || []);
      rows.sort(
        (a, b) =>
          Date.parse(a.due_at) - Date.parse(b.due_at) ||
          String(a.exception_id).localeCompare(String(b.exception_id))
      );
      state.queue = rows;
      renderQueue(rows);
    } catch (error) {
      if (seq !== state.queueSeq) return;
      fail("queue-error", error);
    } finally {
      if (seq === state.queueSeq) busy(panel, false);
    }
  }

  function renderQueue(rows) {
    byId("queue-body").replaceChildren(...rows.map(queueRow));
    byTestId("queue-empty").hidden = rows.length > 0;
    byTestId("queue-count").textContent = rows.length ? String(rows.length) : "";
  }

  function statusBadge(exception) {
    if (exception.status === "RESOLVED") {
      return el("span", { class: "badge resolved", text: `Resolved by ${exception.resolved_by || "?"}` });
    }
    if (exception.claimed_by) {
      const who = exception.claimed_by === subject() ? "you" : exception.claimed_by;
      return el("span", { class: "badge claimed", text: `Claimed by ${who}` });
    }
    return el("span", { class: "badge", text: "Open" });
  }

  function queueActions(exception) {
    if (exception.status === "RESOLVED" || !mayAct()) return [];
    const me = subject();
    const free = !exception.claimed_by;
    const mine = me !== null && exception.claimed_by === me;
    const what = `${exception.type} on order ${exception.order_id}`;
    const actions = [];
    if (free) {
      actions.push(
        el("button", {
          type: "button",
          class: "button small",
          "data-testid": "claim-button",
          "aria-label": `Claim exception ${what}`,
          text: "Claim",
          onclick: (event) => claim(exception, event.currentTarget),
        })
      );
    }
    if (free || mine || me === null) {
      actions.push(
        el("button", {
          type: "button",
          class: "button small primary",
          "data-testid": "resolve-button",
          "aria-label": `Resolve exception ${what}`,
          text: "Resolve",
          onclick: () => openResolve(exception),
        })
      );
    }
    return actions;
  }

  function orderLink(orderId) {
    return el("button", {
      type: "button",
      class: "link-button",
      "data-testid": "order-link",
      "aria-label": `Open the timeline of order ${orderId}`,
      text: orderId,
      onclick: () => openTimeline(orderId),
    });
  }

  function queueRow(exception) {
    const overdue = exception.overdue === true;
    return el(
      "tr",
      {
        class: overdue ? "overdue" : null,
        "data-testid": "exception-row",
        "data-exception-id": exception.exception_id,
        "data-order-id": exception.order_id,
        "data-status": exception.status,
        "data-overdue": overdue ? "true" : "false",
      },
      el(
        "td",
        {},
        el("span", { class: "type", "data-testid": "exception-type", text: exception.type }),
        exception.detail
          ? el("span", { class: "sub", title: exception.detail, text: truncate(exception.detail, 140) })
          : null
      ),
      el("td", {}, orderLink(exception.order_id)),
      el("td", { "data-testid": "exception-owner", text: exception.owner }),
      el("td", { class: "num", "data-testid": "exception-level", text: exception.level }),
      el(
        "td",
        { "data-testid": "exception-deadline" },
        timeEl(exception.due_at),
        overdue ? el("span", { class: "badge overdue", "data-testid": "overdue-badge", text: "Overdue" }) : null
      ),
      el("td", { "data-testid": "exception-status" }, statusBadge(exception)),
      el("td", { class: "actions" }, ...queueActions(exception))
    );
  }

  async function claim(exception, button) {
    button.disabled = true;
    try {
      const claimed = await api("POST", `exceptions/${segment(exception.exception_id)}/claim`);
      clearError("queue-error");
      state.queue = state.queue.map((row) =>
        row.exception_id === claimed.exception_id ? claimed : row
      );
      renderQueue(state.queue);
      toast(`Claimed ${exception.type} on order ${exception.order_id}.`);
    } catch (error) {
      button.disabled = false;
      fail("queue-error", error);
      toast(`Could not claim: ${describe(error)}`, true);
      loadQueue(); // someone else may have claimed or resolved it meanwhile
    }
  }

  // --- resolve dialog --------------------------------------------------------------------

  const ADDRESS_FIELDS = ["line1", "city", "region", "postal_code", "country_code"];
  const KEPT_ADDRESS_FIELDS = ["name", "company", "line2", "phone"];

  function addressInput(field) {
    return byId(`address-${field.replace("_", "-")}`);
  }

  function setAddressEnabled(on) {
    for (const field of ADDRESS_FIELDS) addressInput(field).disabled = !on;
  }

  async function openResolve(exception) {
    state.resolving = exception;
    state.resolvingOrder = null;
    const dialog = byId("resolve-dialog");
    byTestId("resolve-subject").textContent =
      `${exception.type} on order ${exception.order_id} · owner ${exception.owner}` +
      ` · level ${exception.level}`;
    const steps = Array.isArray(exception.remediation) ? exception.remediation : [];
    byId("resolve-steps").replaceChildren(...steps.map((step) => el("li", { text: step })));
    byId("resolve-remediation").hidden = steps.length === 0;
    byId("resolve-action").value = "retry";
    byId("resolve-note").value = "";
    clearError("resolve-error");
    byId("resolve-submit").disabled = false;

    const isAddress = exception.type === "address_invalid";
    byId("resolve-address").hidden = !isAddress;
    byId("resolve-address-on").checked = isAddress;
    for (const field of ADDRESS_FIELDS) addressInput(field).value = "";
    setAddressEnabled(isAddress);
    dialog.showModal();
    byId("resolve-action").focus();

    if (!isAddress) return;
    try {
      const order = await api("GET", `orders/${segment(exception.order_id)}`);
      if (state.resolving !== exception) return;
      state.resolvingOrder = order;
      const address = (order && order.shipping_address) || {};
      for (const field of ADDRESS_FIELDS) {
        const input = addressInput(field);
        if (!input.value && address[field]) input.value = String(address[field]);
      }
    } catch (error) {
      if (state.resolving !== exception) return;
      const node = byTestId("resolve-error");
      node.textContent = `The order's address could not be loaded: ${describe(error)}`;
      node.hidden = false;
    }
  }

  function resolutionFromForm() {
    const action = byId("resolve-action").value;
    const note = byId("resolve-note").value.trim();
    if (note.length < 3) {
      throw new Error("Write a note of at least 3 characters: it is kept in the audit trail.");
    }
    const body = { action, note };
    const wantsAddress = !byId("resolve-address").hidden && byId("resolve-address-on").checked;
    if (wantsAddress) {
      const entered = {};
      for (const field of ADDRESS_FIELDS) entered[field] = addressInput(field).value.trim();
      if (!entered.line1 || !entered.city || !entered.country_code) {
        throw new Error("A corrected address needs at least a street, a city and a country.");
      }
      const current = (state.resolvingOrder && state.resolvingOrder.shipping_address) || {};
      const address = {};
      for (const field of KEPT_ADDRESS_FIELDS) {
        if (current[field]) address[field] = current[field];
      }
      address.line1 = entered.line1;
      address.city = entered.city;
      address.region = entered.region || null;
      address.postal_code = entered.postal_code || null;
      address.country_code = entered.country_code.toUpperCase();
      body.address = address;
    }
    return body;
  }

  async function submitResolve(event) {
    event.preventDefault();
    const exception = state.resolving;
    if (!exception) return;
    let body;
    try {
      body = resolutionFromForm();
    } catch (error) {
      const node = byTestId("resolve-error");
      node.textContent = error.message;
      node.hidden = false;
      return;
    }
    const submit = byId("resolve-submit");
    submit.disabled = true;
    try {
      const answer = await api("POST", `exceptions/${segment(exception.exception_id)}/resolve`, body);
      byId("resolve-dialog").close();
      state.resolving = null;
      if (answer && answer.awaiting_approval) {
        // A cancellation is only asked for: a second operator approves the override.
        toast(`Cancellation of order ${exception.order_id} requested: a second operator approves override ${answer.awaiting_approval}.`);
      } else {
        toast(`Resolved ${exception.type} on order ${exception.order_id} (${body.action}).`);
      }
      loadQueue();
      loadMetrics();
      loadChecklist();
      openTimeline(exception.order_id);
    } catch (error) {
      submit.disabled = false;
      if (error instanceof ApiError && error.status === 401) {
        fail("resolve-error", error);
        return;
      }
      const node = byTestId("resolve-error");
      node.textContent = describe(error);
      node.hidden = false;
      if (error instanceof ApiError && error.status === 409) loadQueue();
    }
  }

  // --- order timeline --------------------------------------------------------------------

  async function openTimeline(orderId) {
    const panel = byId("timeline-panel");
    const seq = ++state.timelineSeq;
    state.timelineOrder = orderId;
    panel.hidden = false;
    byTestId("timeline-order-id").textContent = orderId;
    busy(panel, true);
    panel.scrollIntoView({ block: "start" });
    try {
      const [order, audit] = await Promise.all([
        api("GET", `orders/${segment(orderId)}`),
        api("GET", `orders/${segment(orderId)}/audit`),
      ]);
      if (seq !== state.timelineSeq) return;
      clearError("timeline-error");
      renderTimeline(order, (audit && audit.events) || []);
    } catch (error) {
      if (seq !== state.timelineSeq) return;
      for (const id of ["timeline-status", "timeline-owner", "timeline-client", "timeline-storefront", "timeline-received", "timeline-placed", "timeline-payment", "timeline-total", "timeline-customer", "timeline-lines", "timeline-path"]) {
        setText(id, null);
      }
      byId("timeline-body").replaceChildren();
      fail("timeline-error", error);
    } finally {
      if (seq === state.timelineSeq) busy(panel, false);
    }
  }

  function renderTimeline(order, events) {
    setText("timeline-status", order.status);
    setText("timeline-owner", order.owner);
    setText("timeline-client", order.client_id);
    const number = order.order_number ? `${String(order.order_number).replace(/^#?/, "#")} · ` : "";
    const where = `${number}${order.platform} ${order.storefront_order_id}`;
    byTestId("timeline-storefront").replaceChildren(
      order.storefront_admin_url
        ? el("a", { href: order.storefront_admin_url, target: "_blank", rel: "noopener noreferrer", "data-testid": "timeline-admin-link", text: where })
        : el("span", { text: where })
    );
    byTestId("timeline-received").replaceChildren(timeEl(order.received_at));
    // The storefront's own time, as it states it (its offset kept), not converted.
    setText("timeline-placed", order.storefront_created_at || null);
    setText("timeline-payment", order.payment || null);
    const tax = order.tax !== null && order.tax !== undefined ? ` (tax ${order.tax})` : "";
    setText("timeline-total", order.total !== undefined ? `${order.currency} ${order.total}${tax}` : null);
    const customer = order.customer || {};
    setText("timeline-customer", [customer.name, customer.email, customer.phone].filter(Boolean).join(" · ") || null);
    const lines = (order.lines || []).map((line) => `${line.quantity} × ${line.sku} ${line.title || ""}`.trim());
    const others = (order.other_lines || []).map(
      (line) => `${line.quantity} × ${line.title || line.line_id} (${line.kind === "no_sku" ? "no SKU: to map" : "nothing to ship"})`
    );
    setText("timeline-lines", [...lines, ...others].join("; ") || null);
    setText("timeline-path", Object.keys(order.status_timestamps || {}).join(" → ") || null);
    byId("timeline-body").replaceChildren(
      ...events.map((event) => {
        const actor = event.actor || {};
        const moved = event.to_status ? `${event.from_status || "∅"} → ${event.to_status}` : "";
        const detail = detailSummary(event.detail);
        return el(
          "tr",
          { "data-testid": "audit-row", "data-action": event.action },
          el("td", { class: "num", text: event.seq }),
          el("td", {}, timeEl(event.at)),
          el("td", { class: "type", "data-testid": "audit-action", text: event.action }),
          el("td", { text: `${actor.kind || "?"}/${actor.id || "?"}` }),
          el("td", { class: "transition", "data-testid": "audit-transition", text: moved }),
          el("td", { text: event.owner || "" }),
          el("td", { class: "detail", "data-testid": "audit-detail", title: detail || null, text: truncate(detail, 220) })
        );
      })
    );
  }

  // --- metrics ---------------------------------------------------------------------------

  const COLORS = {
    brand: "#2563eb",
    amber: "#d97706",
    met: "#16a34a",
    missed: "#dc2626",
    slate: "#475569",
    grid: "#e2e8f0",
  };

  function chartLibrary() {
    return typeof window.Chart === "function" ? window.Chart : null;
  }

  function baseOptions(extra) {
    return Object.assign(
      {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { grid: { display: false } },
          y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } },
        },
      },
      extra || {}
    );
  }

  function drawChart(key, config, summary, empty) {
    const Chart = chartLibrary();
    const canvas = byTestId(`chart-${key}`);
    canvas.setAttribute("aria-label", summary);
    const box = canvas.parentElement;
    let note = box.querySelector(".chart-empty");
    if (!note) {
      note = el("p", { class: "chart-empty", "data-testid": `chart-${key}-empty`, text: "No data in this period" });
      box.append(note);
    }
    note.hidden = !empty;
    if (!Chart) return;
    const existing = state.charts[key];
    if (existing) {
      existing.data = config.data;
      existing.options = config.options;
      existing.update();
    } else {
      state.charts[key] = new Chart(canvas, config);
    }
  }

  async function loadMetrics() {
    const panel = byId("metrics-panel");
    const seq = ++state.metricsSeq;
    if (!state.client) return;
    busy(panel, true);
    try {
      const metrics = await api("GET", "metrics" + query({ client: state.client, days: METRIC_DAYS }));
      if (seq !== state.metricsSeq) return;
      clearError("metrics-error");
      renderHeadline(metrics);
      renderCharts(metrics);
      if (!chartLibrary()) {
        fail("metrics-error", new Error("The chart library did not load; the numbers above are current."));
      }
    } catch (error) {
      if (seq !== state.metricsSeq) return;
      fail("metrics-error", error);
    } finally {
      if (seq === state.metricsSeq) busy(panel, false);
    }
  }

  function renderHeadline(metrics) {
    const orders = metrics.orders || {};
    const fulfilment = metrics.fulfillment_hours || {};
    const picks = metrics.pick_accuracy || {};
    const resolution = metrics.time_to_resolution_hours || {};
    const lag = metrics.sync_lag_seconds || {};
    byTestId("metrics-period").textContent =
      metrics.from && metrics.to ? `${metrics.from} to ${metrics.to}` : "";
    setText("kpi-received", fmtCount(orders.received));
    setText("kpi-shipped", fmtCount(orders.shipped));
    setText("kpi-fulfillment-median", fmtHours(fulfilment.median));
    setText("kpi-fulfillment-p90", fmtHours(fulfilment.p90));
    setText("kpi-pick-accuracy", fmtPercent(picks.rate));
    byTestId("kpi-pick-accuracy").title = isNumber(picks.picks)
      ? `${picks.first_time_right} of ${picks.picks} picks right the first time`
      : "";
    setText("kpi-ttr-average", fmtHours(resolution.average));
    setText("kpi-ttr-p90", fmtHours(resolution.p90));
    setText("kpi-sync-lag-p90", fmtSeconds(lag.p90));
  }

  function renderCharts(metrics) {
    const histogram = (metrics.fulfillment_hours && metrics.fulfillment_hours.histogram) || [];
    const counts = histogram.map((bin) => (isNumber(bin.count) ? bin.count : 0));
    drawChart(
      "fulfillment",
      {
        type: "bar",
        data: {
          labels: histogram.map((bin) => String(bin.label)),
          datasets: [
            {
              label: "Orders",
              data: counts,
              backgroundColor: COLORS.brand,
              barPercentage: 1,
              categoryPercentage: 0.96,
            },
          ],
        },
        options: baseOptions(),
      },
      "Fulfilment time histogram: " +
        histogram.map((bin, i) => `${bin.label}: ${counts[i]} orders`).join(", "),
      counts.every((count) => count === 0)
    );

    const byType = (metrics.exceptions && metrics.exceptions.by_type) || [];
    const rates = byType.map((row) => (isNumber(row.rate) ? Math.round(row.rate * 1000) / 10 : 0));
    drawChart(
      "exceptions",
      {
        type: "bar",
        data: {
          labels: byType.map((row) => String(row.type)),
          datasets: [
            { label: "Exception rate (%)", data: rates, backgroundColor: COLORS.amber, maxBarThickness: 56 },
          ],
        },
        options: baseOptions({
          scales: {
            x: { grid: { display: false } },
            y: {
              beginAtZero: true,
              grid: { color: COLORS.grid },
              ticks: { callback: (value) => `${value} %` },
            },
          },
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                label: (item) => `${item.parsed.y} % of orders (${byType[item.dataIndex].opened} opened)`,
              },
            },
          },
        }),
      },
      "Exception rate by type: " +
        byType.map((row, i) => `${row.type}: ${rates[i]} % (${row.opened} opened)`).join(", "),
      byType.every((row) => !row.opened)
    );

    const daily = metrics.daily || [];
    const sla = metrics.sla || {};
    const met = daily.map((day) => (isNumber(day.sla_met) ? day.sla_met : 0));
    const missed = daily.map((day) => (isNumber(day.sla_missed) ? day.sla_missed : 0));
    const compliance = byTestId("sla-compliance");
    compliance.textContent = fmtPercent(sla.compliance);
    compliance.title = `${fmtCount(sla.met)} met, ${fmtCount(sla.missed)} missed`;
    drawChart(
      "sla",
      {
        type: "bar",
        data: {
          labels: daily.map((day) => {
            const date = new Date(`${day.date}T00:00:00Z`);
            return Number.isNaN(date.getTime()) ? String(day.date) : dayFormat.format(date);
          }),
          datasets: [
            { label: "Met", data: met, backgroundColor: COLORS.met, stack: "sla" },
            { label: "Missed", data: missed, backgroundColor: COLORS.missed, stack: "sla" },
          ],
        },
        options: baseOptions({
          plugins: { legend: { display: true, position: "bottom", labels: { boxWidth: 12 } } },
          scales: {
            x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } },
          },
        }),
      },
      `SLA compliance ${fmtPercent(sla.compliance)}: ${fmtCount(sla.met)} met, ${fmtCount(sla.missed)} missed`,
      met.every((count) => count === 0) && missed.every((count) => count === 0)
    );

    const owners = metrics.escalations_per_owner || [];
    const escalations = owners.map((row) => (isNumber(row.escalations) ? row.escalations : 0));
    drawChart(
      "escalations",
      {
        type: "bar",
        data: {
          labels: owners.map((row) => String(row.owner)),
          datasets: [
            { label: "Escalations", data: escalations, backgroundColor: COLORS.slate, maxBarThickness: 28 },
          ],
        },
        options: baseOptions({
          indexAxis: "y",
          scales: {
            x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } },
            y: { grid: { display: false } },
          },
        }),
      },
      "Escalations per owner: " +
        owners.map((row, i) => `${row.owner}: ${escalations[i]}`).join(", "),
      escalations.every((count) => count === 0)
    );
  }

  // --- Monday checklist ------------------------------------------------------------------

  async function loadChecklist() {
    const panel = byId("checklist-panel");
    const seq = ++state.checklistSeq;
    if (!state.client) return;
    busy(panel, true);
    try {
      const checklist = await api("GET", "checklist" + query({ client: state.client }));
      if (seq !== state.checklistSeq) return;
      clearError("checklist-error");
      renderChecklist(checklist);
    } catch (error) {
      if (seq !== state.checklistSeq) return;
      byId("checklist-items").replaceChildren();
      byTestId("checklist-overall").hidden = true;
      fail("checklist-error", error);
    } finally {
      if (seq === state.checklistSeq) busy(panel, false);
    }
  }

  function entriesTable(entries) {
    const columns = [];
    for (const entry of entries) {
      for (const key of Object.keys(entry || {})) if (!columns.includes(key)) columns.push(key);
    }
    return el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { class: "data", "data-testid": "checklist-entries" },
        el("thead", {}, el("tr", {}, ...columns.map((column) => el("th", { scope: "col", text: column.replaceAll("_", " ") })))),
        el(
          "tbody",
          {},
          ...entries.map((entry) =>
            el(
              "tr",
              {},
              ...columns.map((column) => {
                const value = entry ? entry[column] : null;
                if (column === "order_id" && typeof value === "string" && value) {
                  return el("td", {}, orderLink(value));
                }
                return el("td", { text: value === null || value === undefined ? NO_DATA : fmtValue(value) });
              })
            )
          )
        )
      )
    );
  }

  function renderChecklist(checklist) {
    const items = (checklist && checklist.items) || [];
    const attention = items.filter((item) => !item.ok).length;
    const overall = byTestId("checklist-overall");
    overall.textContent = attention ? `${attention} need attention` : "All clear";
    overall.className = `badge ${attention ? "attention" : "ok"}`;
    overall.hidden = false;
    const generated = byTestId("checklist-generated");
    generated.replaceChildren();
    if (checklist && checklist.generated_at) {
      generated.append("Generated ", timeEl(checklist.generated_at));
    }
    byId("checklist-items").replaceChildren(
      ...items.map((item) => {
        const entries = Array.isArray(item.entries) ? item.entries : [];
        return el(
          "article",
          { class: `check ${item.ok ? "ok" : "attention"}`, "data-testid": "checklist-item", "data-key": item.key },
          el(
            "div",
            { class: "check-head" },
            el("span", { class: `badge ${item.ok ? "ok" : "attention"}`, "data-testid": "checklist-badge", text: item.ok ? "OK" : "Attention" }),
            el("h3", { text: item.title || item.key })
          ),
          item.summary ? el("p", { "data-testid": "checklist-summary", text: item.summary }) : null,
          entries.length ? entriesTable(entries) : null
        );
      })
    );
  }

  // --- pending rule changes --------------------------------------------------------------

  async function loadRuleChanges() {
    const panel = byId("rules-panel");
    busy(panel, true);
    try {
      // Pending: waiting for a second lead's approval, or approved and waiting to go live.
      const answers = await Promise.all(
        ["proposed", "approved"].map((status) => api("GET", "rule-changes" + query({ status })))
      );
      clearError("rules-error");
      renderRuleChanges(answers.flatMap((answer) => (answer && answer.changes) || []));
    } catch (error) {
      byId("rules-list").replaceChildren();
      byTestId("rules-empty").hidden = true;
      byTestId("rules-count").textContent = "";
      fail("rules-error", error);
    } finally {
      busy(panel, false);
    }
  }

  function renderRuleChanges(changes) {
    byId("rules-list").replaceChildren(...changes.map(ruleChangeCard));
    byTestId("rules-empty").hidden = changes.length > 0;
    byTestId("rules-count").textContent = changes.length ? String(changes.length) : "";
  }

  function ruleChangeCard(change) {
    const card = el("article", {
      class: "rule-change",
      "data-testid": "rule-change",
      "data-client": change.client_id,
      "data-version": change.version,
      "data-status": change.status,
    });
    fillRuleChange(card, change);
    return card;
  }

  function fillRuleChange(card, change) {
    card.setAttribute("data-status", change.status);
    const what = `version ${change.version} of ${change.client_id}'s rules`;
    const actions = el("div", { class: "actions" });
    if (isLead()) {
      const own = subject() !== null && change.proposed_by === subject();
      actions.append(
        el("button", {
          type: "button",
          class: "button small",
          "data-testid": "approve-button",
          "aria-label": `Approve ${what}`,
          title: own ? "You proposed this change; another lead approves it." : null,
          disabled: change.status !== "proposed" || own,
          text: "Approve",
          onclick: (event) => decide(card, change, "approve", event.currentTarget),
        }),
        el("button", {
          type: "button",
          class: "button small primary",
          "data-testid": "activate-button",
          "aria-label": `Activate ${what}`,
          title: change.status === "proposed" ? "Activation follows approval." : null,
          disabled: change.status !== "approved",
          text: "Activate",
          onclick: (event) => decide(card, change, "activate", event.currentTarget),
        })
      );
    }
    const notes = Array.isArray(change.release_notes) ? change.release_notes : [];
    const proposed = el("p", { class: "meta" }, `Proposed by ${change.proposed_by || "?"}`);
    if (change.proposed_at) proposed.append(" · ", timeEl(change.proposed_at));
    if (change.approved_by) proposed.append(` · approved by ${change.approved_by}`);
    if (change.activated_at) proposed.append(" · active since ", timeEl(change.activated_at));
    card.replaceChildren(
      el(
        "div",
        { class: "rule-change-head" },
        el("h3", {}, `${change.client_id} `, el("span", { class: "muted", text: `v${change.version}` })),
        el("span", { class: "badge", "data-testid": "rule-change-status", text: change.status }),
        actions
      ),
      el("p", { "data-testid": "rule-change-summary", text: change.summary || "" }),
      proposed,
      notes.length
        ? el("ul", { "data-testid": "release-notes" }, ...notes.map((line) => el("li", { text: line })))
        : null,
      el("p", { class: "form-error", role: "alert", "data-testid": "rule-change-error", hidden: true })
    );
  }

  async function decide(card, change, verb, button) {
    button.disabled = true;
    const path = `rules/${segment(change.client_id)}/changes/${segment(change.version)}/${verb}`;
    try {
      const updated = await api("POST", path);
      fillRuleChange(card, updated || change);
      loadChecklist(); // its "rule changes" item counts what is waiting
      toast(`${verb === "approve" ? "Approved" : "Activated"} version ${change.version} of ${change.client_id}'s rules.`);
    } catch (error) {
      button.disabled = false;
      if (error instanceof ApiError && error.status === 401) {
        fail("rules-error", error);
        return;
      }
      const node = card.querySelector('[data-testid="rule-change-error"]');
      node.textContent = describe(error);
      node.hidden = false;
    }
  }

  // --- wiring ----------------------------------------------------------------------------

  function start() {
    const Chart = chartLibrary();
    if (Chart) {
      Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      Chart.defaults.color = "#475569";
    }

    byId("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      startSignIn();
    });
    byId("sign-out").addEventListener("click", signOutEverywhere);
    byId("client-select").addEventListener("change", (event) => chooseClient(event.target.value));
    byId("client-input").addEventListener("change", (event) => chooseClient(event.target.value));
    byId("queue-status").addEventListener("change", loadQueue);
    byId("queue-refresh").addEventListener("click", loadQueue);
    byId("metrics-refresh").addEventListener("click", loadMetrics);
    byId("checklist-refresh").addEventListener("click", loadChecklist);
    byId("rules-refresh").addEventListener("click", loadRuleChanges);
    byId("timeline-refresh").addEventListener("click", () => {
      if (state.timelineOrder) openTimeline(state.timelineOrder);
    });
    byId("timeline-close").addEventListener("click", () => {
      state.timelineOrder = null;
      state.timelineSeq += 1;
      byId("timeline-panel").hidden = true;
    });
    byId("resolve-form").addEventListener("submit", submitResolve);
    byId("resolve-cancel").addEventListener("click", () => byId("resolve-dialog").close());
    byId("resolve-dialog").addEventListener("close", () => {
      state.resolving = null;
    });
    byId("resolve-address-on").addEventListener("change", (event) => setAddressEnabled(event.target.checked));

    const params = new URLSearchParams(window.location.search);
    const session = readSession();
    if (params.has("code") || params.has("error")) finishSignIn(params);
    else if (session && session.expiresAt > Date.now()) {
      state.token = session.idToken;
      scheduleRefresh(session);
      signIn(true);
    } else if (session && session.refreshToken) {
      refreshSession().then(() => {
        if (state.token) signIn(true);
      });
    } else showSignIn();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
