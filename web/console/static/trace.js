/* Voucher Ledger console: settlement batches, the penetrating trace (穿透式追溯), and the audit page. */
"use strict";

(function (VL) {
  const { h, t, $, api, qs } = VL;
  const enc = encodeURIComponent;
  const short = (id) => (id ? String(id).slice(0, 8) : "—");

  /* ---------- settlement batches ---------- */
  const batchLink = (b) => VL.link(VL.consoleUrl("/settlements/" + enc(b.batch_id)), b.name || short(b.batch_id));

  /** The batches of a year into `box` (used by the dashboard and the batch list). */
  VL.loadBatches = async function (box, year) {
    if (!box) return;
    VL.clear(box);
    try {
      await VL.pagedTable(box, [
        { label: "batch.name", render: batchLink },
        { label: "common.year", key: "year" },
        { label: "common.status", render: (b) => VL.badge("batch", b.status) },
        { label: "batch.claims", num: true, key: "claims" },
        { label: "batch.claimed", num: true, render: (b) => VL.yuan(b.claimed) },
        { label: "batch.payable", num: true, render: (b) => VL.yuan(b.payable) },
        { label: "batch.paid", num: true, render: (b) => VL.yuan(b.paid) },
        { label: "batch.reference", render: (b) => b.reference || "—" },
      ], async (offset, limit) => {
        const result = await api("/settlements" + qs({ year, offset, limit, sort: "-opened" }));
        return { rows: result.batches, total: result.total };
      }, "batch.none");
    } catch (error) {
      if (error instanceof VL.ApiError && (error.status === 404 || error.status === 405)) {
        box.append(h("p", { class: "empty" }, t("batch.unavailable")));
      } else VL.fail(error, box);
    }
  };

  VL.pages.settlements = async function () {
    const form = $("#batch-open-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("#batch-id").value.trim();
      if (id) location.assign(VL.consoleUrl("/settlements/" + enc(id)));
    });
    const year = Number(new URLSearchParams(location.search).get("year")) || null;
    await VL.loadBatches($("#batch-list"), year);
  };

  VL.pages.settlement = async function (data) {
    const me = VL.session.me();
    // The batch with its first page of claims; the next pages come from the API as 更多 asks (issue 19).
    const claimsPage = (offset) => api("/settlements/" + enc(data.id) + qs({ claims_limit: CLAIM_PAGE, claims_offset: offset }));
    const b = await claimsPage(0);
    $("#batch-title").textContent = b.name || short(b.batch_id);
    $("#batch-meta").append(h("span", { class: "mono" }, b.batch_id), " ", VL.badge("batch", b.status),
      " ", h("span", { class: "muted" }, t("common.year") + " " + b.year));
    $("#batch-trace").href = VL.consoleUrl("/trace/settlements/" + enc(b.batch_id));
    $("#batch-figures").append(VL.figures([
      ["batch.claimed", b.claimed], ["batch.payable", b.payable, "strong"], ["batch.paid", b.paid, "strong"],
    ]));
    const step = (key, by, at, extra) => [key, by ? h("span", {}, by, " · ", VL.instant(at), extra ? [" · ", extra] : null) : null];
    $("#batch-steps").append(VL.facts([
      step("batch.opened", b.opened_by, b.opened_at),
      step("batch.approved", b.approved_by, b.approved_at),
      step("batch.noticed", b.noticed_by, b.noticed_at, b.notice_outcome ? VL.label("notice", b.notice_outcome) : null),
      step("batch.paid_step", b.paid_by, b.paid_at, b.reference ? h("b", { id: "batch-reference" }, b.reference) : null),
    ]));
    const reader = VL.isReader(me);
    // Providers' names, for the people reading the claims: looked up for the page of claims shown (the code
    // stays if refused), so a batch of a thousand claims costs a page's look-ups, not a thousand.
    const names = {};
    const nameThem = async (claims) => {
      const codes = [...new Set(claims.map((c) => c.provider_id))].filter((code) => !(code in names));
      const named = await Promise.allSettled(codes.map((code) => api("/providers/" + enc(code))));
      codes.forEach((code, i) => { names[code] = named[i].status === "fulfilled" ? named[i].value.name : code; });
    };
    await VL.pagedTable($("#batch-claims"), [
      { label: "claim.id", render: (c) => h("span", { class: "mono", title: c.claim_id }, short(c.claim_id)) },
      { label: "contract.provider", render: (c) => reader
        ? VL.link(VL.consoleUrl("/providers/" + enc(c.provider_id) + qs({ year: b.year })), names[c.provider_id])
        : names[c.provider_id] },
      { label: "claim.contracts", render: (c) => contractLines(c.contracts || []) },
      { label: "claim.amount", num: true, render: (c) => VL.yuan(c.amount) },
      { label: "claim.review", render: (c) => h("span", {}, VL.badge("claim", c.status),
        c.reviewed_by ? h("div", { class: "muted small" }, c.reviewed_by + " · " + VL.instant(c.reviewed_at)) : null,
        c.note ? h("div", { class: "small" }, c.note) : null) },
      { label: "claim.documents", render: (c) => documents(c.documents) },
      { label: "claim.claimed", render: (c) => h("span", { class: "small" }, c.claimed_by, h("br"), VL.instant(c.claimed_at)) },
    ], async (offset) => {
      const rows = (offset ? await claimsPage(offset) : b).claims || [];
      await nameThem(rows);
      return { rows, total: b.claims_total };
    }, "claim.none", CLAIM_PAGE);
  };
  const CLAIM_PAGE = 25;
  const CLAIM_LINES = 3;

  /** A claim's contracts: the first few, the rest folded under their count (a claim may list hundreds). */
  function contractLines(lines) {
    const item = (line) => h("li", {}, VL.link(VL.consoleUrl("/contracts/" + enc(line.contract_id)), short(line.contract_id), "mono"),
      " ", VL.yuan(line.amount));
    const list = h("ul", { class: "plain" }, lines.slice(0, CLAIM_LINES).map(item));
    if (lines.length <= CLAIM_LINES) return list;
    return h("div", {}, list, h("details", { class: "fold" },
      h("summary", {}, t("common.more") + " " + (lines.length - CLAIM_LINES)),
      h("ul", { class: "plain" }, lines.slice(CLAIM_LINES).map(item))));
  }

  function documents(list) {
    if (!list || !list.length) return "—";
    return h("ul", { class: "plain docs" }, list.map((d) => h("li", {},
      /^https?:\/\//.test(d.uri || "") ? h("a", { href: d.uri, rel: "noopener noreferrer", target: "_blank" }, d.name) : d.name,
      " ", h("small", { class: "mono muted", title: d.sha256 }, "sha256 " + String(d.sha256 || "").slice(0, 12) + "…"),
      d.size !== undefined ? h("small", { class: "muted" }, " · " + d.size + " B") : null)));
  }

  /* ---------- the trace: every step before and after a fund movement (Art. 24) ---------- */
  VL.pages["trace-index"] = function () {
    const kind = $("#trace-kind"), year = $("#trace-year");
    year.value = VL.thisYear();
    const sync = () => { $("#trace-year-row").hidden = !(kind.value === "enterprises" || kind.value === "providers"); };
    kind.addEventListener("change", sync);
    sync();
    $("#trace-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("#trace-id").value.trim();
      if (!id) return;
      const needsYear = kind.value === "enterprises" || kind.value === "providers";
      location.assign(VL.consoleUrl("/trace/" + kind.value + "/" + enc(id) + (needsYear ? qs({ year: year.value }) : "")));
    });
  };

  const TRACE_LINKS = {
    contract_id: (v) => ["contracts", v], contract_ids: (v) => ["contracts", v], batch_id: (v) => ["settlements", v],
    enterprise_id: (v) => ["enterprises", v], provider_id: (v) => ["providers", v],
  };
  const HIDDEN_KEYS = new Set(["originator_id", "originator_version", "originator_topic", "timestamp", "actor",
    "request_id"]);
  // Codes shown in words: the key's value is looked up in this group of texts.
  const CODED = { kind: "kind", category: "category", stage: "stage", decision: "decision", outcome: "notice",
    violation: "violation", subject_type: "subject", entity_type: "entity", role: "role" };
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const shortId = (id) => (UUID.test(String(id)) ? short(id) : String(id));

  /** A link to the trace of another subject named in a step; years come from the step or the subject. */
  function traceLink(kind, id, year) {
    const needsYear = kind === "enterprises" || kind === "providers";
    const href = VL.consoleUrl("/trace/" + kind + "/" + enc(id) + (needsYear && year ? qs({ year }) : ""));
    return VL.link(href, t("trace.to." + kind) + " " + shortId(id), "next");
  }

  /** One data value, shown the way an auditor reads it: yuan, percentages, documents, dates. */
  function renderValue(key, value) {
    if (value === null || value === undefined) return "—";
    if (key === "documents" && Array.isArray(value)) return documents(value);
    if (/_fen$/.test(key) && /^-?\d+$/.test(String(value))) return VL.fenToYuan(value);
    if (/_bp$/.test(key) && /^\d+$/.test(String(value))) return VL.percentBp(value);
    if (/_fen$/.test(key) && typeof value === "object") {
      return h("ul", { class: "plain" }, Object.entries(value).map(([k, v]) =>
        h("li", {}, h("span", { class: "mono" }, k.length > 12 ? short(k) : k), " ", VL.fenToYuan(v))));
    }
    if (Array.isArray(value)) {
      if (value.every((v) => v === null || typeof v !== "object")) return value.map((v) => renderValue(key, v)).join(", ") || "—";
      return h("ul", { class: "plain" }, value.map((v) => h("li", {}, renderValue(key, v))));
    }
    if (typeof value === "object") {
      // Nested facts (parameters, eligibility facts): each value formatted by its own key.
      return h("dl", { class: "facts compact nested" }, Object.entries(value).map(([k, v]) =>
        [h("dt", {}, t("field." + k, shortId(k))), h("dd", {}, renderValue(k, v))]));
    }
    if (typeof value === "boolean") return t(value ? "common.yes" : "common.no");
    if (CODED[key]) return VL.t(CODED[key] + "." + value, String(value));
    return String(value);
  }

  // A step recorded on a contract's or a batch's own stream links to that subject's trace too.
  const STREAM_KINDS = { Contract: "contracts", SettlementBatch: "settlements" };
  const CODE_KINDS = { Enterprise: "enterprises", Provider: "providers" };

  function stepLinks(step, year, selfKind, selfId) {
    const data = step.data || {};
    const group = String(step.type || "").split(":").pop().split(".")[0];
    const links = [];
    const seen = new Set();
    const add = (kind, target) => {
      const key = kind + "/" + target;
      if (!target || seen.has(key) || (kind === selfKind && String(target) === String(selfId))) return;
      seen.add(key);
      links.push(traceLink(kind, target, data.year || year));
    };
    if (STREAM_KINDS[group] && step.stream) add(STREAM_KINDS[group], step.stream);
    if (CODE_KINDS[group] && data.code) add(CODE_KINDS[group], data.code);
    for (const [key, make] of Object.entries(TRACE_LINKS)) {
      if (!(key in data)) continue;
      for (const id of [].concat(data[key])) add(...make(id));
    }
    return links;
  }

  /** A subject's field, linked to the page of what it names. */
  function subjectValue(key, value, year) {
    if (value === null || value === undefined || value === "") return "—";
    const pages = { contract_id: "/contracts/", batch_id: "/settlements/", enterprise_id: "/enterprises/",
      provider_id: "/providers/" };
    if (!pages[key]) return renderValue(key, value);
    const needsYear = key === "enterprise_id" || key === "provider_id";
    return VL.link(VL.consoleUrl(pages[key] + enc(value) + (needsYear && year ? qs({ year }) : "")), String(value), "mono");
  }

  VL.pages.trace = async function (data) {
    const kind = data.kind, id = data.id;
    const year = new URLSearchParams(location.search).get("year");
    $("#trace-title").textContent = t("trace.of." + kind) + " · " + (kind === "enterprises" || kind === "providers"
      ? id + (year ? " · " + year : "") : short(id));
    // A party's year is read from the API a page at a time (issue 19); a contract's or a batch's whole.
    const paged = kind === "enterprises" || kind === "providers";
    const fetchSteps = (offset) => api("/trace/" + kind + "/" + enc(id) + qs({ year,
      ...(paged ? { limit: TRACE_PAGE, offset } : {}) }));
    const result = await fetchSteps(0);
    const subject = result.subject || {};
    const subjectYear = subject.year || year;
    $("#trace-subject").append(VL.facts(Object.entries(subject).filter(([, v]) => typeof v !== "object" || v === null)
      .map(([k, v]) => ["field." + k, subjectValue(k, v, subjectYear)]), "compact"));
    const back = $("#trace-back");
    if (kind === "contracts") back.href = VL.consoleUrl("/contracts/" + enc(id));
    else if (kind === "settlements") back.href = VL.consoleUrl("/settlements/" + enc(id));
    else if (kind === "enterprises") back.href = VL.consoleUrl("/enterprises/" + enc(id) + qs({ year: subjectYear }));
    else back.href = VL.consoleUrl("/providers/" + enc(id) + qs({ year: subjectYear }));
    let steps = result.steps || [];
    const total = paged ? result.total : steps.length;
    $("#trace-count").textContent = t("trace.steps") + ": " + total;
    // A long trace is shown a page of steps at a time (issue 19: one provider's year was 191,469 px tall).
    const list = h("ol", { class: "timeline" });
    const more = h("button", { type: "button", class: "secondary pager-more", id: "trace-more" }, t("common.more"));
    const count = h("span", { class: "muted small pager-count" });
    $("#trace-steps").append(list, h("div", { class: "pager" }, count, " ", more));
    let shown = 0;
    const showMore = async () => {
      more.disabled = true;
      if (paged && shown >= steps.length && steps.length < total) steps = steps.concat((await fetchSteps(steps.length)).steps);
      list.append(...steps.slice(shown, shown + TRACE_PAGE).map(renderStep));
      shown = Math.min(steps.length, shown + TRACE_PAGE);
      count.textContent = t("common.shown") + " " + shown + " / " + t("common.total") + " " + total;
      more.hidden = shown >= total;
      more.disabled = false;
    };
    more.addEventListener("click", () => showMore().catch((error) => VL.fail(error, count)));
    await showMore();
    function renderStep(step) {
      const type = String(step.type || "").split(":").pop();
      const group = type.split(".")[0];
      const stepData = step.data || {};
      const rows = Object.entries(stepData).filter(([k]) => !HIDDEN_KEYS.has(k));
      const actor = step.actor || {};
      return h("li", { class: "step kind-" + group.toLowerCase(), "data-type": type, "data-position": step.position },
        h("div", { class: "when" }, VL.instant(step.recorded_at), h("div", { class: "muted small" }, "#" + step.position)),
        h("div", { class: "what" },
          h("div", { class: "title" }, h("b", {}, t("event." + type, type)), " ", h("span", { class: "muted small" }, type)),
          h("div", { class: "who" }, VL.label("role", actor.role), " · ", h("span", { class: "mono" }, actor.id || "—"),
            h("span", { class: "muted small" }, " · " + t("trace.stream") + " " + short(step.stream) + " v" + step.version)),
          rows.length ? h("dl", { class: "facts compact" }, rows.map(([k, v]) =>
            [h("dt", {}, t("field." + k, k)), h("dd", {}, renderValue(k, v))])) : null,
          h("div", { class: "links" }, stepLinks(step, subjectYear, kind, id))));
    }
  };
  const TRACE_PAGE = 15;  // a step is up to ~450 px tall at 390 px wide: a page stays well under 10,000 px

  /* ---------- audit: the chain head, verification, exports ---------- */
  VL.pages.audit = async function () {
    const me = VL.session.me();
    if (!VL.isAuditRole(me)) { VL.forbidden(); return; }
    const headBox = $("#audit-head");
    const showHead = async () => {
      VL.clear(headBox);
      try {
        const head = await api("/audit/head");
        headBox.append(VL.facts([["audit.position", String(head.position)],
          ["audit.hash", h("code", { class: "hash", id: "audit-head-hash" }, head.hash || "—")]]));
      } catch (error) { VL.fail(error, headBox); }
    };
    $("#audit-refresh").addEventListener("click", showHead);
    $("#audit-verify").addEventListener("click", async () => {
      const box = VL.clear($("#audit-verify-result"));
      box.append(h("p", { class: "muted" }, t("audit.verifying")));
      try {
        const result = await api("/audit/verify");
        VL.clear(box).append(h("div", { class: result.ok ? "ok-box" : "alert", id: "audit-verify-outcome" },
          h("b", {}, t(result.ok ? "audit.ok" : "audit.broken")), " ",
          t("audit.checked") + ": " + (result.checked ?? "—"),
          result.ok ? null : [" · ", t("audit.first_break") + ": " + (result.position ?? result.first_bad_position ?? "—")]));
      } catch (error) {
        VL.clear(box);
        if (error instanceof VL.ApiError && error.status === 403) box.append(h("div", { class: "alert" }, t("audit.auditor_only")));
        else VL.fail(error, box);
      }
    });
    $("#export-form").addEventListener("submit", (event) => { event.preventDefault(); download(); });
    await showHead();
  };

  /**
   * Fetch the export with the Authorization header, then offer it as a file: the token never
   * goes into a URL. The manifest comes from the JSONL's last line (or the response headers).
   */
  async function download() {
    const format = $("#export-format").value;
    const query = { format, year: $("#export-year").value, from_position: $("#export-from").value,
      to_position: $("#export-to").value };
    const box = VL.clear($("#export-result"));
    box.append(h("p", { class: "muted" }, t("export.running")));
    try {
      const response = await VL.request("/export" + qs(query));
      if (!response.ok) {
        let body = null;
        try { body = await response.json(); } catch (e) { body = null; }
        throw new VL.ApiError(response.status, body);
      }
      const blob = await response.blob();
      const manifest = await manifestOf(blob, format, response.headers);
      const name = "voucher-ledger-export" + (query.year ? "-" + query.year : "") + "-" +
        new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-") + "." + format;
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name, id: "export-link", class: "button" }, t("export.save") + " " + name);
      VL.clear(box).append(h("p", {}, t("export.ready") + " (" + blob.size + " B)"), a,
        h("h3", {}, t("export.manifest")),
        VL.facts([["export.count", String(manifest.count ?? "—")], ["export.first", String(manifest.first_position ?? "—")],
          ["export.last", String(manifest.last_position ?? "—")],
          ["export.head_hash", h("code", { class: "hash", id: "export-head-hash" }, manifest.head_hash || "—")]], "manifest"));
      a.click();
    } catch (error) {
      if (error instanceof VL.ApiError && error.status === 403) {
        VL.clear(box).append(h("div", { class: "alert" }, t("error.FORBIDDEN")));
      } else VL.fail(error, box);
    }
  }

  async function manifestOf(blob, format, headers) {
    const fromHeader = headers.get("X-Export-Manifest");
    if (fromHeader) { try { return JSON.parse(fromHeader); } catch (e) { /* fall through */ } }
    const tail = await blob.slice(Math.max(0, blob.size - 65536)).text();
    const lines = tail.split("\n").filter((line) => line.trim());
    if (format === "jsonl") {
      for (let i = lines.length - 1; i >= 0; i--) {
        try { const parsed = JSON.parse(lines[i]); if (parsed.manifest) return parsed.manifest; } catch (e) { /* partial line */ }
      }
      return {};
    }
    // CSV: the manifest is the last row, "#manifest" then the manifest's JSON.
    for (let i = lines.length - 1; i >= 0; i--) {
      const cells = parseCsvLine(lines[i]);
      if (cells[0] === "#manifest") {
        try { const parsed = JSON.parse(cells[1]); return parsed.manifest || parsed; } catch (e) { return {}; }
      }
    }
    return {};
  }

  function parseCsvLine(line) {
    const out = [];
    let field = "", quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { out.push(field); field = ""; } else field += c;
    }
    out.push(field);
    return out;
  }
})(window.VL);
