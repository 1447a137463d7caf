/* Voucher Ledger console: the write actions of the daily work (issue 19).
 *
 * Each form is shown only to the roles the API lets act, and calls the existing API. Its
 * Idempotency-Key is made once when the form is drawn, so a double click or a resent form acts once
 * (API.md, Conventions); a refused form gets a fresh key, since nothing was recorded. Money
 * movements (payment, close, sanction, termination) show what they will do and ask to confirm first.
 * A refusal is shown in Chinese with its details; a success reloads the page with a short notice.
 */
"use strict";

(function (VL) {
  const { h, t, $, api, qs } = VL;
  const enc = encodeURIComponent;
  const short = (id) => (id ? String(id).slice(0, 8) : "—");

  /** A fresh Idempotency-Key (random; crypto.randomUUID needs a secure context, getRandomValues does not). */
  VL.newKey = function () {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };

  /** POST (or `method`, e.g. PUT) a command to the API with its Idempotency-Key; a non-2xx answer throws an ApiError. */
  VL.post = async function (path, body, key, method) {
    const response = await fetch("/api/v1" + path, {
      method: method || "POST",
      headers: { ...VL.session.headers(), Accept: "application/json", "Content-Type": "application/json",
        "Idempotency-Key": key },
      body: JSON.stringify(body || {}),
      cache: "no-store",
      credentials: VL.session.usesCookie() ? "same-origin" : "omit",
    });
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    if (!response.ok) throw new VL.ApiError(response.status, answer);
    return answer;
  };

  /** One input of a form: text, number, date, textarea, select, checkbox or a list of checkboxes. */
  function input(form, spec) {
    const id = form + "-" + spec.name;
    const common = { id, name: spec.name, required: spec.required || null };
    let control;
    if (spec.type === "select") {
      // Options are [value, textKey] or [value, null, literal text] (names, ids).
      control = h("select", common, (spec.options || []).map(([value, key, literal]) =>
        h("option", { value, selected: String(value) === String(spec.value) },
          key ? t(key, String(value)) : literal || String(value))));
    } else if (spec.type === "textarea") {
      control = h("textarea", { ...common, rows: 2, maxlength: spec.max || 2000,
        placeholder: spec.placeholder ? t(spec.placeholder) : null }, spec.value || "");
    } else if (spec.type === "checkbox") {
      control = h("input", { ...common, type: "checkbox", checked: !!spec.value });
      return h("label", { class: "check" }, control, " ", h("span", {}, t(spec.label)));
    } else if (spec.type === "checks") {
      const items = spec.options || [];
      return h("fieldset", { class: "checks", id },
        h("legend", {}, t(spec.label)),
        items.length ? items.map(([value, text]) => h("label", { class: "check" },
          h("input", { type: "checkbox", name: spec.name, value, checked: !!spec.checked }), " ", h("span", {}, text)))
          : h("p", { class: "empty small" }, t(spec.emptyKey || "common.none")));
    } else {
      control = h("input", { ...common, type: spec.type || "text", value: spec.value ?? "", maxlength: spec.max || 200,
        placeholder: spec.placeholder ? t(spec.placeholder) : null, autocomplete: "off" });
    }
    return h("label", { class: "field" }, h("span", {}, t(spec.label)), control);
  }

  /** The values of a form's inputs: text as text, checkboxes as booleans, lists of checkboxes as arrays. */
  function values(form, fields) {
    const out = {};
    for (const spec of fields) {
      if (spec.type === "checks") {
        out[spec.name] = [...form.querySelectorAll("input[name='" + spec.name + "']:checked")].map((el) => el.value);
      } else if (spec.type === "checkbox") {
        out[spec.name] = form.elements[spec.name].checked;
      } else {
        out[spec.name] = form.elements[spec.name].value.trim();
      }
    }
    return out;
  }

  /**
   * A command's form in a card: {id, title, roles, fields, hint?, send(values) → [path, body],
   * preview?(values, body) → node (then a confirmation step), submitKey?, method? (default POST)}. Returns the card, or null
   * when the signed-in role may not perform the command.
   */
  VL.actionForm = function (spec) {
    const me = VL.session.me();
    if (!me || !spec.roles.includes(me.role)) return null;
    let key = VL.newKey();  // once per drawn form: a second click sends the same key
    let busy = false;
    const message = h("div", { class: "action-message", id: spec.id + "-message", "aria-live": "polite" });
    const submit = h("button", { type: "submit", id: spec.id + "-submit" }, t(spec.submitKey || "action.submit"));
    const form = h("form", { class: "action", id: spec.id, "data-key": key },
      spec.fields.map((field) => input(spec.id, field)), h("div", { class: "row" }, submit), message);
    const card = h("section", { class: "card action-card", id: spec.id + "-card" },
      h("h2", {}, t(spec.title)), spec.hint ? h("p", { class: "muted small" }, spec.hint) : null, form);

    const refuse = (error) => {
      key = VL.newKey();  // nothing was recorded: a corrected form is a new command
      form.dataset.key = key;
      VL.clear(message).append(h("div", { class: "alert", role: "alert", "data-code": error.code || "" },
        error instanceof VL.ApiError ? VL.t("error." + error.code, error.message) + " (" + error.status + " " + error.code + ")"
          : VL.t("error.network"),
        error instanceof VL.ApiError ? VL.errorDetails(error.details) : null));
    };
    const act = async (path, body) => {
      try {
        const result = await VL.post(path, body, key, spec.method);
        sessionStorage.setItem("vl.flash", JSON.stringify({ key: spec.title, position: result && result.position }));
        location.reload();
      } catch (error) {
        busy = false;
        submit.disabled = false;
        refuse(error);
      }
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;  // a double click acts once (and the key would make a resend harmless anyway)
      busy = true;
      submit.disabled = true;
      VL.clear(message);
      let path, body;
      try {
        [path, body] = spec.send(values(form, spec.fields));
        if (!spec.preview) { await act(path, body); return; }
        const preview = await spec.preview(values(form, spec.fields), body);
        const confirm = h("button", { type: "button", id: spec.id + "-confirm", class: "danger" }, t("action.confirm"));
        const cancel = h("button", { type: "button", class: "secondary", id: spec.id + "-cancel" }, t("action.cancel"));
        confirm.addEventListener("click", () => { confirm.disabled = true; cancel.disabled = true; act(path, body); });
        cancel.addEventListener("click", () => { busy = false; submit.disabled = false; VL.clear(message); });
        message.append(h("div", { class: "confirm", id: spec.id + "-preview" }, h("p", {}, h("b", {}, t("action.check"))),
          preview, h("div", { class: "row" }, confirm, cancel)));
      } catch (error) {
        busy = false;
        submit.disabled = false;
        refuse(error);
      }
    });
    return card;
  };

  /** The notice a successful command leaves for the reloaded page. */
  function flash() {
    const raw = sessionStorage.getItem("vl.flash");
    if (!raw) return;
    sessionStorage.removeItem("vl.flash");
    let note = null;
    try { note = JSON.parse(raw); } catch (e) { return; }
    const main = $("#vl-main");
    main.prepend(h("div", { class: "flash", role: "status", id: "vl-flash" }, t("action.done") + "：" + t(note.key),
      note.position ? h("span", { class: "muted small" }, " · " + t("action.position") + " #" + note.position) : null));
  }

  /** Put the page's action cards after its content, in one "actions" area. */
  function place(cards) {
    const shown = cards.filter(Boolean);
    if (!shown.length) return;
    const area = $("#vl-actions") || $("#vl-main").appendChild(h("div", { class: "actions", id: "vl-actions" }));
    area.append(...shown);
  }
  Object.assign(VL, { placeActions: place, showFlash: flash });  // for the forms in other files (forms_parties.js)

  /** Run `add` after a page's own rendering. */
  function after(page, add) {
    const original = VL.pages[page];
    VL.pages[page] = async function (data) {
      flash();
      if (original) await original(data);
      place(await add(data));
    };
  }

  const yearOptions = (year) => [year - 1, year, year + 1].map((y) => [y, null]);
  const params = () => new URLSearchParams(location.search);
  const document_ = (v) => ({ name: v.doc_name, uri: v.doc_uri, sha256: v.doc_sha256.toLowerCase(), size: Number(v.doc_size) });
  const DOCUMENT_FIELDS = [
    { name: "doc_name", label: "action.doc_name", required: true },
    { name: "doc_uri", label: "action.doc_uri", required: true, placeholder: "action.doc_uri_hint", max: 1000 },
    { name: "doc_sha256", label: "action.doc_sha256", required: true, max: 64 },
    { name: "doc_size", label: "action.doc_size", type: "number", required: true, value: "0" },
  ];
  /** A key/value confirmation list: [[labelKey, value], ...]. */
  const confirmFacts = (rows) => VL.facts(rows, "compact");
  /** For the forms of other files (forms_work.js): the page hook and the document fields, written once here. */
  VL.formKit = { after, documentFields: DOCUMENT_FIELDS, document: document_ };

  /* ---------- an enterprise: issue a voucher (operator) ---------- */
  /** The designations of special vouchers (API.md "Special vouchers"). */
  VL.DESIGNATIONS = ["lead_enterprise", "cluster_or_base", "key_project", "innovation_platform", "other_designated"];
  after("enterprise", (data) => {
    const year = Number(params().get("year")) || VL.thisYear();
    return [VL.actionForm({
      id: "issue-voucher", title: "action.issue_voucher", roles: ["operator"],
      fields: [
        { name: "year", label: "common.year", type: "select", options: yearOptions(year), value: year },
        { name: "kind", label: "voucher.kind", type: "select", options: [["general", "kind.general"], ["special", "kind.special"]],
          value: "general" },
        // A special voucher names the designation it is issued under (API.md "Special vouchers").
        { name: "designation", label: "action.designation", type: "select", options: [["", "forms.no_designation"],
          ...VL.DESIGNATIONS.map((d) => [d, "designation." + d])] },
      ],
      send: (v) => ["/vouchers", { enterprise_id: data.id, year: Number(v.year), kind: v.kind,
        ...(v.kind === "special" ? { designation: v.designation } : {}) }],
    })];
  });

  /* ---------- a provider: its reviews, its products' reviews, its termination ---------- */
  const PROVIDER_STAGES = ["compliance", "initial", "expert", "approval", "notice"];
  const PRODUCT_STAGES = ["expert", "approval", "notice"];
  const DECISIONS = [["pass", "decision.pass"], ["reject", "decision.reject"]];

  after("provider", async (data) => {
    const me = VL.session.me();
    const year = Number(params().get("year")) || VL.thisYear();
    const cards = [];
    // The products, with the years each is listed: readers and the provider itself.
    const productsCard = h("section", { class: "card", id: "provider-products-card" }, h("h2", {}, t("product.list")),
      h("div", { id: "provider-products" }));
    cards.push(productsCard);
    let products = [];
    try {
      const result = await api("/providers/" + enc(data.id) + "/products" + qs({ limit: 500 }));
      products = result.products;
      await VL.pagedTable(productsCard.querySelector("#provider-products"), [
        { label: "product.name", render: (p) => h("span", { title: p.product_id }, p.name) },
        { label: "product.category", render: (p) => VL.label("category", p.category) },
        { label: "product.price", num: true, render: (p) => VL.yuan(p.price) },
        { label: "product.listed_years", render: (p) => p.listed_years.join(", ") || t("product.not_listed") },
      ], async (offset, limit) => {
        const page = await api("/providers/" + enc(data.id) + "/products" + qs({ offset, limit }));
        return { rows: page.products, total: page.total };
      }, "product.none");
    } catch (error) { VL.fail(error, productsCard.querySelector("#provider-products")); }
    /** A review's fields and body: the same for a provider's stages and a product's (Art. 12-15). */
    const reviewFields = (stages) => [
      { name: "year", label: "common.year", type: "select", options: yearOptions(year), value: year },
      { name: "stage", label: "action.stage", type: "select", options: stages.map((s) => [s, "stage." + s]) },
      { name: "decision", label: "action.decision", type: "select", options: DECISIONS },
      { name: "note", label: "action.note", type: "textarea" },
    ];
    const review = (v) => ({ year: Number(v.year), stage: v.stage, decision: v.decision, note: v.note });
    cards.push(VL.actionForm({
      id: "provider-review", title: "action.provider_review", roles: ["operator", "approver"],
      hint: t("action.provider_review_hint"), fields: reviewFields(PROVIDER_STAGES),
      send: (v) => ["/providers/" + enc(data.id) + "/reviews", review(v)],
    }));
    cards.push(VL.actionForm({
      id: "product-review", title: "action.product_review", roles: ["operator", "approver"],
      fields: [{ name: "product_id", label: "product.name", type: "select",
        options: products.map((p) => [p.product_id, null, p.name + " · " + short(p.product_id)]) }, ...reviewFields(PRODUCT_STAGES)],
      send: (v) => ["/products/" + enc(v.product_id) + "/reviews", review(v)],
    }));
    cards.push(VL.actionForm({
      id: "provider-termination", title: "action.provider_termination", roles: ["approver"],
      fields: [{ name: "reason", label: "action.reason", type: "textarea", required: true }],
      send: (v) => ["/providers/" + enc(data.id) + "/termination", { reason: v.reason }],
      preview: async () => h("p", { class: "warn" }, t("action.provider_termination_effect")),
    }));
    if (me && me.role === "provider") cards.shift();  // the provider sees its products above its contracts anyway
    return cards;
  });

  /* ---------- a contract: the parties' steps and a termination ---------- */
  after("contract", async (data) => {
    const c = await api("/contracts/" + enc(data.id));
    const path = "/contracts/" + enc(c.contract_id);
    const open = !["completed", "terminated", "clawed_back"].includes(c.status);
    return [
      c.status === "proposed" ? VL.actionForm({ id: "contract-sign", title: "action.sign", roles: ["provider"], fields: [],
        send: () => [path + "/signature", {}] }) : null,
      c.status === "signed" ? VL.actionForm({ id: "contract-deposit", title: "action.deposit", roles: ["enterprise"],
        fields: [{ name: "amount", label: "contract.deposit", value: c.deposit, required: true }],
        send: (v) => [path + "/deposit", { amount: v.amount }] }) : null,
      c.status === "active" ? VL.actionForm({ id: "contract-completion", title: "action.completion", roles: ["enterprise"],
        fields: [{ name: "balance_paid", label: "contract.balance_due", value: c.balance_due, required: true }],
        send: (v) => [path + "/completion", { balance_paid: v.balance_paid }] }) : null,
      open ? VL.actionForm({ id: "contract-termination", title: "action.terminate_contract",
        roles: ["operator", "enterprise", "provider"],
        fields: [{ name: "reason", label: "action.reason", type: "textarea", required: true }],
        send: (v) => [path + "/termination", { reason: v.reason }],
        preview: async () => confirmFacts([["contract.id", c.contract_id], ["common.status", VL.badge("contract", c.status)],
          ["action.released", VL.yuan(c.status === "proposed" ? "0.00" : c.subsidy)]]) }) : null,
    ];
  });

  /* ---------- settlement: open a batch; a batch's claims, review, approval, notice, payment ---------- */
  after("settlements", () => {
    const year = VL.thisYear();
    return [VL.actionForm({
      id: "batch-new", title: "action.open_batch", roles: ["operator"],
      fields: [
        { name: "year", label: "common.year", type: "select", options: yearOptions(year), value: year },
        { name: "name", label: "batch.name", required: true, value: year + "年第一批" },
      ],
      send: (v) => ["/settlements", { year: Number(v.year), name: v.name }],
    })];
  });

  after("settlement", async (data) => {
    const me = VL.session.me();
    // Only an open batch (claims, reviews) or an approved one (the notice's disputed claims) needs its claims
    // here, so only then are they read whole (issue 19: a paid batch of a year lists thousands of contracts).
    const head = await api("/settlements/" + enc(data.id) + qs({ claims_limit: 1 }));
    const b = ["open", "approved"].includes(head.status) ? await api("/settlements/" + enc(data.id)) : head;
    const path = "/settlements/" + enc(b.batch_id);
    const claimsOf = (status) => (b.claims || []).filter((c) => c.status === status);
    const claimLabel = (c) => short(c.claim_id) + " · " + c.provider_id + " · " + VL.yuan(c.amount);
    const cards = [];
    if (b.status === "open" && me.role === "provider") {
      // The provider's completed contracts of the batch's year not yet in a batch.
      const mine = await api("/providers/" + enc(me.subject) + "/contracts" + qs({ year: b.year, limit: 500 }));
      const claimable = mine.contracts.filter((c) => c.status === "completed" && !c.batch_id && !c.settled);
      cards.push(VL.actionForm({
        id: "batch-claim", title: "action.claim", roles: ["provider"],
        fields: [
          { name: "contract_ids", label: "claim.contracts", type: "checks", emptyKey: "action.nothing_to_claim",
            options: claimable.map((c) => [c.contract_id, short(c.contract_id) + " · " + (c.enterprise_name || c.enterprise_id)
              + " · " + VL.yuan(c.subsidy)]) },
          ...DOCUMENT_FIELDS,
        ],
        send: (v) => [path + "/claims", { contract_ids: v.contract_ids, documents: [document_(v)] }],
      }));
    }
    const pending = claimsOf("pending");
    if (b.status === "open" && pending.length) {
      cards.push(VL.actionForm({
        id: "claim-review", title: "action.review_claim", roles: ["operator"],
        fields: [
          { name: "claim_id", label: "claim.id", type: "select", options: pending.map((c) => [c.claim_id, null, claimLabel(c)]) },
          { name: "decision", label: "action.decision", type: "select",
            options: [["approve", "decision.approve"], ["reject", "decision.reject"]] },
          { name: "reason", label: "action.reject_reason", type: "select",
            options: [["", "common.none"], ["materials", "reason.materials"], ["acceptance_failed", "reason.acceptance_failed"]] },
          { name: "note", label: "action.note", type: "textarea" },
        ],
        send: (v) => [path + "/claims/" + enc(v.claim_id) + "/review",
          { decision: v.decision, note: v.note, ...(v.reason ? { reason: v.reason } : {}) }],
      }));
    }
    if (b.status === "open") {
      cards.push(VL.actionForm({
        id: "batch-approval", title: "action.approve_batch", roles: ["approver"],
        fields: [{ name: "note", label: "action.note", type: "textarea" }],
        send: (v) => [path + "/approval", { note: v.note }],
        preview: async () => confirmFacts([["batch.claims", String(claimsOf("approved").length)],
          ["batch.payable", VL.yuan(b.payable)], ["status.claim.pending", String(pending.length)]]),
      }));
    }
    if (b.status === "approved") {
      const approved = claimsOf("approved");
      cards.push(VL.actionForm({
        id: "batch-notice", title: "action.notice", roles: ["operator"],
        fields: [
          { name: "outcome", label: "action.outcome", type: "select",
            options: [["no_objection", "notice.no_objection"], ["objection", "notice.objection"]] },
          { name: "claim_ids", label: "action.disputed_claims", type: "checks", options: approved.map((c) => [c.claim_id, claimLabel(c)]) },
          { name: "note", label: "action.note", type: "textarea" },
        ],
        send: (v) => [path + "/notice", { outcome: v.outcome, note: v.note, claim_ids: v.outcome === "objection" ? v.claim_ids : [] }],
      }));
    }
    if (b.status === "noticed" || b.status === "paying") {
      cards.push(VL.actionForm({
        id: "batch-payment", title: "action.pay", roles: ["finance"],
        fields: [{ name: "reference", label: "batch.reference", required: true }],
        send: (v) => [path + "/payment", { reference: v.reference }],
        preview: async () => {
          const plan = await api(path + "/plan");
          return h("div", {}, confirmFacts([["batch.payable", VL.yuan(plan.amount)], ["claim.contracts", String(plan.contracts)]]),
            VL.table([
              { label: "contract.provider", render: (p) => p.name || p.provider_id },
              { label: "claim.contracts", num: true, render: (p) => String(p.contracts.length) },
              { label: "claim.amount", num: true, render: (p) => VL.yuan(p.amount) },
            ], plan.providers, "claim.none"));
        },
      }));
    }
    return cards;
  });

  /* ---------- a year: preview and close (operator) ---------- */
  after("year", async (data) => {
    // The dashboard has put the year it shows in the address (/console/years/2026).
    const year = Number(location.pathname.split("/").pop()) || Number(data.year) || VL.thisYear();
    return [VL.actionForm({
      id: "year-close", title: "action.close_year", roles: ["operator"], submitKey: "action.preview",
      fields: [],
      send: () => ["/years/" + year + "/close", {}],
      preview: async () => {
        const p = await api("/years/" + year + "/close-preview");
        return confirmFacts([["common.year", String(p.year)], ["action.expired_vouchers", String(p.expired_vouchers)],
          ["action.expired_amount", VL.yuan(p.expired_amount)], ["action.released_contracts", String(p.released_contracts)],
          ["action.closes_after", p.closes_after],
          ["action.can_close", p.can_close ? t("common.yes") : h("b", { class: "warn" }, t("common.no"))]]);
      },
    })];
  });

  /* ---------- Excel workbooks (issue 19): fetched with the token, offered as a file ---------- */
  /** A button that downloads an API workbook; the token goes in the header, never in a URL. */
  VL.workbookButton = function (id, labelKey, path, name, ext = ".xlsx") {
    const status = h("span", { class: "muted small", id: id + "-status" });
    const button = h("button", { type: "button", class: "secondary", id }, t(labelKey));
    button.addEventListener("click", async () => {
      button.disabled = true;
      VL.clear(status).append(t("export.running"));
      try {
        const response = await VL.request(path);
        if (!response.ok) {
          let body = null;
          try { body = await response.json(); } catch (e) { body = null; }
          throw new VL.ApiError(response.status, body);
        }
        const blob = await response.blob();
        const a = h("a", { href: URL.createObjectURL(blob), download: name + ext, id: id + "-link" }, name + ext);
        VL.clear(status).append(a);
        a.click();
      } catch (error) {
        VL.fail(error, status);
      } finally {
        button.disabled = false;
      }
    });
    return h("span", { class: "workbook" }, button, " ", status);
  };

  /** A card of workbook buttons for readers: [[id, labelKey, path, name], ...]. */
  function workbooks(list) {
    if (!VL.isReader(VL.session.me())) return null;
    return h("section", { class: "card", id: "workbooks-card" }, h("h2", {}, t("workbook.title")),
      h("div", { class: "row wrap" }, list.map((args) => VL.workbookButton(...args))));
  }

  after("year", async () => {
    const year = Number(location.pathname.split("/").pop()) || VL.thisYear();
    return [workbooks([
      ["wb-vouchers", "workbook.vouchers", "/workbooks/vouchers" + qs({ year }), year + "-补贴券与余额"],
      ["wb-contracts", "workbook.contracts", "/workbooks/contracts" + qs({ year }), year + "-服务合同"],
      ["wb-providers", "workbook.provider_totals", "/workbooks/provider-totals" + qs({ year }), year + "-服务机构合计"],
    ]), VL.isReader(VL.session.me()) ? h("section", { class: "card" }, h("h2", {}, t("yearend.title")),
      VL.link(VL.consoleUrl("/year-end/" + year), t("yearend.open"), "button secondary")) : null];
  });

  after("settlement", async (data) => [workbooks([
    ["wb-batch", "workbook.batch", "/workbooks/settlements/" + enc(data.id), "结算批次-" + short(data.id)],
  ])]);

  /* ---------- the year-end warning (余额预警) ---------- */
  VL.pages["year-end"] = async function (data) {
    const year = Number(data.year) || VL.thisYear();
    const input = $("#yearend-from");
    const from = params().get("from") || "";
    input.value = from || year + "-10-01";
    $("#yearend-form").addEventListener("submit", (event) => {
      event.preventDefault();
      location.search = qs({ from: input.value });
    });
    // Each list a page at a time from the API (issue 19: a year names thousands of enterprises).
    const pageOf = (offset) => api("/year-end" + qs({ year, from, limit: VL.PAGE_SIZE, offset }));
    const report = await pageOf(0);
    const listed = (key) => async (offset) => {
      const r = offset ? await pageOf(offset) : report;
      return { rows: r[key], total: r[key + "_total"] };
    };
    $("#yearend-title").textContent = t("yearend.title") + " · " + year;
    $("#yearend-state").append(report.warning
      ? h("span", { class: "badge warn-on", id: "yearend-warning" }, t("yearend.active") + " · " + t("yearend.days_left") + " " + report.days_left)
      : h("span", { class: "badge", id: "yearend-warning" }, t("yearend.not_yet") + " " + report.from));
    $("#yearend-figures").append(VL.figures([["yearend.available", report.available, "strong"],
      ["yearend.reserved", report.reserved, "strong"]]),
      h("p", { class: "sub" }, t("yearend.expires_on") + " " + report.ends_on));
    await VL.pagedTable($("#yearend-enterprises"), [
      { label: "enterprise.code", render: (e) => VL.link(VL.consoleUrl("/enterprises/" + enc(e.enterprise_id) + qs({ year })), e.enterprise_id, "mono") },
      { label: "enterprise.name", key: "name" },
      { label: "yearend.vouchers", num: true, key: "vouchers" },
      { label: "yearend.available", num: true, render: (e) => VL.yuan(e.available) },
      { label: "yearend.reserved", num: true, render: (e) => VL.yuan(e.reserved) },
    ], listed("enterprises"), "yearend.none");
    await VL.pagedTable($("#yearend-providers"), [
      { label: "enterprise.code", render: (p) => VL.link(VL.consoleUrl("/providers/" + enc(p.provider_id) + qs({ year })), p.provider_id, "mono") },
      { label: "provider.name", key: "name" },
      { label: "yearend.contracts", num: true, key: "contracts" },
      { label: "contract.amount", num: true, render: (p) => VL.yuan(p.amount) },
      { label: "yearend.reserved", num: true, render: (p) => VL.yuan(p.reserved) },
    ], listed("providers"), "yearend.none");
    $("#yearend-download").append(VL.workbookButton("wb-yearend", "workbook.yearend",
      "/workbooks/year-end" + qs({ year, from }), year + "-余额预警"));
  };

  /* ---------- printable notices (公示): a list, its 大写 total, and the chain head with its QR code ---------- */
  /** The QR code's modules ("0101…" rows) as an SVG of dark squares. */
  function qrCode(rows) {
    const size = rows.length;
    const dark = [];
    rows.forEach((row, y) => [...row].forEach((bit, x) => { if (bit === "1") dark.push("M" + x + " " + y + "h1v1h-1z"); }));
    return VL.svg("svg", { viewBox: "0 0 " + size + " " + size, class: "qr", id: "notice-qr", role: "img",
      "shape-rendering": "crispEdges" }, VL.svg("rect", { width: size, height: size, fill: "#fff" }),
      VL.svg("path", { d: dark.join(""), fill: "#000" }));
  }

  VL.pages.notice = async function (data) {
    const path = data.kind === "settlements" ? "/notices/settlements/" + enc(data.id) : "/notices/" + data.kind + qs({ year: data.id });
    const n = await api(path);
    // The same notice as a PDF (?format=pdf), fetched with the token like the workbooks.
    $("#notice-pdf").append(VL.workbookButton("notice-pdf-download", "notice.pdf",
      path + (path.includes("?") ? "&" : "?") + "format=pdf", n.title, ".pdf"));
    $("#notice-title").textContent = n.title;
    document.title = n.title;
    const payment = n.kind === "payment";
    const columns = n.kind === "providers" ? [
      { label: "enterprise.code", render: (l) => h("span", { class: "mono" }, l.id) },
      { label: "provider.name", key: "name" },
      { label: "notice.cap", num: true, render: (l) => VL.yuan(l.amount) },
    ] : n.kind === "products" ? [
      { label: "product.name", key: "name" },
      { label: "product.category", render: (l) => VL.label("category", l.category) },
      { label: "contract.provider", render: (l) => l.party_name || l.party },
      { label: "product.price", num: true, render: (l) => VL.yuan(l.amount) },
    ] : [
      { label: "contract.provider", key: "name" },
      { label: "contract.id", render: (l) => h("span", { class: "mono" }, short(l.id)) },
      { label: "contract.enterprise", render: (l) => l.party_name || l.party },
      { label: "product.category", render: (l) => VL.label("category", l.category) },
      { label: "notice.paid", num: true, render: (l) => VL.yuan(l.amount) },
    ];
    const numbers = new Map(n.lines.map((l, i) => [l, i + 1]));  // a payment list has thousands of lines
    const numbered = [{ label: "notice.no", num: true, render: (l) => String(numbers.get(l)) }, ...columns];
    const lines = $("#notice-lines");
    lines.append(VL.table(numbered, n.lines, "common.none"));
    // On screen a long list shows its first lines and a button for the rest (issue 19: no page over
    // 10,000 px); the print stylesheet shows every line, so the printed notice is always whole.
    if (n.lines.length > NOTICE_SCREEN_LINES) {
      lines.classList.add("folded");
      const all = h("button", { type: "button", class: "secondary no-print", id: "notice-show-all" },
        t("notice.show_all") + " (" + n.lines.length + ")");
      all.addEventListener("click", () => { lines.classList.remove("folded"); all.remove(); hint.remove(); });
      const hint = h("p", { class: "muted small no-print" }, t("notice.folded"));
      lines.append(hint, all);
    }
    $("#notice-total").append(VL.facts([
      ["notice.count", String(n.count)],
      n.total !== null && n.total !== undefined ? ["notice.total", h("b", { id: "notice-total-yuan" }, VL.yuan(n.total))] : null,
      n.total_capital ? ["notice.capital", h("b", { id: "notice-capital" }, n.total_capital)] : null,
      payment && n.reference ? ["batch.reference", n.reference] : null,
    ].filter(Boolean)));
    const head = $("#notice-head");
    if (!n.head) { head.append(h("p", { class: "muted", id: "notice-no-head" }, t("notice.no_head"))); return; }
    head.append(h("div", { class: "notice-head" }, qrCode(n.head.qr), VL.facts([
      ["audit.position", h("span", { id: "notice-position" }, String(n.head.position))],
      ["notice.hash", h("code", { class: "hash", id: "notice-hash" }, n.head.hash)],
      ["notice.check", t("notice.check_how")],
    ])));
    $("#notice-print").addEventListener("click", () => window.print());
  };

  const NOTICE_SCREEN_LINES = 50;  // the CSS rule `#notice-lines.folded` hides the rows after these

  /** Links to the printable notices of a year or a batch, for readers. */
  function noticeLinks(list) {
    if (!VL.isReader(VL.session.me())) return null;
    return h("section", { class: "card", id: "notices-card" }, h("h2", {}, t("notice.print_title")),
      h("div", { class: "row wrap" }, list.map(([id, key, href]) => VL.link(href, t(key), "button secondary " + id))));
  }
  after("year", async () => {
    const year = Number(location.pathname.split("/").pop()) || VL.thisYear();
    return [noticeLinks([["nl-providers", "notice.providers", VL.consoleUrl("/notices/providers/" + year)],
      ["nl-products", "notice.products", VL.consoleUrl("/notices/products/" + year)]])];
  });
  after("settlement", async (data) => [noticeLinks([["nl-payment", "notice.payment",
    VL.consoleUrl("/notices/settlements/" + enc(data.id))]])]);

  /* ---------- sanctions: the cases, filing one, deciding one ---------- */
  VL.pages.cases = async function () {
    const box = $("#case-list");
    const columns = [
      { label: "case.id", render: (c) => h("span", { class: "mono", title: c.case_id }, short(c.case_id)) },
      { label: "case.subject", render: (c) => h("span", {}, VL.label("subject", c.subject_type), " ",
        VL.link(VL.consoleUrl("/" + c.subject_type + "s/" + enc(c.subject_id)), c.subject_id, "mono")) },
      { label: "case.violation", render: (c) => VL.label("violation", c.violation) },
      { label: "claim.contracts", render: (c) => h("ul", { class: "plain" }, c.contract_ids.map((id) =>
        h("li", {}, VL.link(VL.consoleUrl("/contracts/" + enc(id)), short(id), "mono")))) },
      { label: "common.status", render: (c) => VL.badge("case", c.status) },
      { label: "case.filed", render: (c) => h("span", { class: "small" }, c.filed_by, h("br"), VL.instant(c.filed_at)) },
    ];
    await VL.pagedTable(box, columns, async (offset, limit) => {
      const page = await api("/cases" + qs({ offset, limit, sort: "-filed" }));
      return { rows: page.cases, total: page.total };
    }, "case.none");
  };

  after("cases", async () => {
    const open = (await api("/cases" + qs({ limit: 500, sort: "-filed" }))).cases.filter((c) => c.status === "filed");
    const cards = [VL.actionForm({
      id: "case-file", title: "action.file_case", roles: ["operator", "supervisor"],
      fields: [
        { name: "subject_type", label: "case.subject", type: "select",
          options: [["enterprise", "subject.enterprise"], ["provider", "subject.provider"]] },
        { name: "subject_id", label: "enterprise.code", required: true, max: 18 },
        { name: "violation", label: "case.violation", type: "select",
          options: ["transfer", "fake_transaction", "complaint", "audit_mismatch", "non_cooperation"].map((v) => [v, "violation." + v]) },
        { name: "contract_ids", label: "action.contract_ids", type: "textarea", max: 20000 },
        { name: "note", label: "action.note", type: "textarea" },
      ],
      send: (v) => ["/cases", { subject_type: v.subject_type, subject_id: v.subject_id, violation: v.violation,
        contract_ids: v.contract_ids.split(/[\s,，]+/).filter(Boolean), note: v.note }],
    })];
    if (!open.length) return cards;
    const chosen = () => open.find((c) => c.case_id === $("#case-sanction").elements.case_id.value) || open[0];
    const contracts = new Set(open.flatMap((c) => c.contract_ids));
    cards.push(VL.actionForm({
      id: "case-sanction", title: "action.sanction", roles: ["operator"],
      fields: [
        { name: "case_id", label: "case.id", type: "select",
          options: open.map((c) => [c.case_id, null, short(c.case_id) + " · " + c.subject_id + " · " + VL.label("violation", c.violation)]) },
        { name: "clawback_contract_ids", label: "action.clawback", type: "checks",
          options: [...contracts].map((id) => [id, short(id)]) },
        { name: "revoke_enterprise", label: "field.revoke_enterprise", type: "checkbox" },
        { name: "terminate_provider", label: "field.terminate_provider", type: "checkbox" },
        { name: "note", label: "action.note", type: "textarea" },
      ],
      send: (v) => ["/cases/" + enc(v.case_id) + "/sanction", { clawback_contract_ids: v.clawback_contract_ids,
        revoke_enterprise: v.revoke_enterprise, terminate_provider: v.terminate_provider, note: v.note }],
      // What the sanction will do to each contract, from the contracts as they stand (DOMAIN.md "Sanctions").
      preview: async (v) => {
        const c = chosen();
        const rows = await Promise.all(v.clawback_contract_ids.map((id) => api("/contracts/" + enc(id))));
        const outcome = (k) => k.settled ? "receivable" : ["completed"].includes(k.status) ? "clawed_back"
          : ["signed", "active"].includes(k.status) ? "released" : "stopped";
        return h("div", {}, confirmFacts([["case.subject", VL.label("subject", c.subject_type) + " " + c.subject_id],
          ["case.violation", VL.label("violation", c.violation)],
          ["field.revoke_enterprise", t(v.revoke_enterprise ? "common.yes" : "common.no")],
          ["field.terminate_provider", t(v.terminate_provider ? "common.yes" : "common.no")]]),
          VL.table([
            { label: "contract.id", render: (k) => h("span", { class: "mono" }, short(k.contract_id)) },
            { label: "common.status", render: (k) => VL.badge("contract", k.status) },
            { label: "contract.subsidy", num: true, render: (k) => VL.yuan(k.subsidy) },
            { label: "action.outcome", render: (k) => t("outcome." + outcome(k)) },
          ], rows, "action.no_clawback"));
      },
    }));
    return cards;
  });
})(window.VL);
