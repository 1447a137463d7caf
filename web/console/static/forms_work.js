/* Voucher Ledger console: the forms of the rarer commands (issue 19): contracts, settlement objections,
 * the service archive and webhook subscriptions. Built with VL.actionForm (actions.js), so each is shown
 * only to the roles the API lets act, sends one Idempotency-Key per drawn form, and shows a refusal in
 * Chinese with its details.
 *
 * Where each form is, as a clerk would look for it:
 * - an enterprise's page: proposing a contract (the enterprise itself), a spot check of the enterprise
 *   (operator, supervisor), its service archive and turning a supervisor's finding into a case (operator);
 * - a provider's page: the same spot check, archive and finding → case for the provider;
 * - a contract's page: the acceptance check (operator, supervisor), the satisfaction survey (operator),
 *   the release of a hold (approver);
 * - a batch's page: resolving an objection to a disputed contract (approver);
 * - the audit page: the supervisor's supervision report with its findings (the supervisor works there);
 * - a page of its own, "事件推送" (/console/webhooks): the subscriptions (staff, supervisor, auditors read;
 *   the operator subscribes). A secret is sent once and never shown back (the API never returns it); a
 *   subscription made here starts at the chain's head (the API's default): replaying history is the API's `after`.
 * Commands that move money toward payment or back to a voucher (a hold release, an objection's
 * resolution, an acceptance check, a proposal's subsidy) show what they will do and ask to confirm.
 */
"use strict";

(function (VL) {
  const { h, t, api, qs, $ } = VL;
  const { documentFields, document: documentOf } = VL.formKit;
  /** Add a page's cards after its own rendering; the body says when they are drawn (data-work-forms). */
  const after = (page, add) => VL.formKit.after(page, async (data) => {
    let cards = [];
    try {
      cards = await add(data);
    } catch (error) {
      // A subject not registered yet (404) has no work to do; forms_parties.js offers its registration,
      // which a thrown error here would wipe from the page.
      if (!(error instanceof VL.ApiError) || error.status !== 404) throw error;
    }
    document.body.dataset.workForms = "drawn";
    return cards;
  });
  const enc = encodeURIComponent;
  const short = (id) => (id ? String(id).slice(0, 8) : "—");
  const facts = (rows) => VL.facts(rows, "compact");
  const params = () => new URLSearchParams(location.search);
  /** The document fields, optional: a command whose documents the API makes optional sends none if unnamed. */
  const OPTIONAL_DOCUMENT = documentFields.map((f) => ({ ...f, required: false, value: f.name === "doc_size" ? "" : f.value }));
  const documents = (v) => (v.doc_name ? [documentOf({ ...v, doc_size: v.doc_size || "0" })] : []);
  const RESULTS = [["passed", "work.result.passed"], ["failed", "work.result.failed"]];
  const SUBJECT_TYPES = [["enterprise", "subject.enterprise"], ["provider", "subject.provider"]];
  const SEVERITIES = ["info", "minor", "major"].map((s) => [s, "work.severity." + s]);
  const VIOLATIONS = ["transfer", "fake_transaction", "complaint", "audit_mismatch", "non_cooperation"]
    .map((v) => [v, "violation." + v]);
  const pageYear = () => Number(params().get("year")) || VL.thisYear();
  /** The select of a drawn form, to fill its options again when another choice changes. */
  const options = (select, list) => VL.clear(select).append(...list.map(([value, text]) => h("option", { value }, text)));

  /* ---------- an enterprise: propose a contract (the enterprise), spot check, archive, finding → case ---------- */
  after("enterprise", async (data) => {
    const me = VL.session.me();
    const year = pageYear();
    const cards = [];
    if (me && me.role === "enterprise" && me.subject === data.id) cards.push(await proposeForm(data.id, year));
    const all = VL.isReader(me) ? await api("/enterprises/" + enc(data.id)) : null;
    const contracts = all ? all.contracts.filter((c) => c.year === year) : [];
    cards.push(spotCheckForm("enterprise", data.id, year, contracts), ...await archiveCards("enterprise", data.id));
    return cards;
  });

  /** The enterprise's proposal (Art. 7, 10, 17): its voucher, a signed provider and one of its listed products. */
  async function proposeForm(enterpriseId, year) {
    const [mine, catalogue] = await Promise.all([api("/enterprises/" + enc(enterpriseId)),
      api("/catalogue" + qs({ year, grades: "false" }))]);
    const vouchers = mine.vouchers.filter((v) => v.year === year && v.status === "active");
    if (!vouchers.length) return null;  // no live voucher of the year: nothing to propose with
    const providers = catalogue.providers.filter((p) => p.products.length);
    const productsOf = (providerId) => (providers.find((p) => p.provider_id === providerId) || { products: [] }).products;
    const productLabel = (p) => p.name + " · " + VL.label("category", p.category) + " · " + VL.yuan(p.price);
    const first = providers[0] ? providers[0].provider_id : "";
    const card = VL.actionForm({
      id: "contract-propose", title: "work.propose", roles: ["enterprise"], submitKey: "action.preview",
      hint: t("work.propose_hint"),
      fields: [
        { name: "voucher_id", label: "voucher.id", type: "select", options: vouchers.map((v) =>
          [v.voucher_id, null, short(v.voucher_id) + " · " + VL.label("kind", v.kind) + " · " + t("figure.available") + " " + VL.yuan(v.available)]) },
        { name: "provider_id", label: "contract.provider", type: "select",
          options: providers.map((p) => [p.provider_id, null, p.name + " · " + t("work.grade") + " " + (p.grade || "—")]) },
        { name: "product_id", label: "contract.product", type: "select",
          options: productsOf(first).map((p) => [p.product_id, null, productLabel(p)]) },
        { name: "amount", label: "contract.amount", required: true, placeholder: "work.yuan_hint" },
        { name: "quantity", label: "work.quantity", type: "number", value: "1", required: true },
        { name: "subsidy", label: "work.subsidy_asked", placeholder: "work.subsidy_hint" },
      ],
      send: (v) => ["/contracts", { voucher_id: v.voucher_id, provider_id: v.provider_id, product_id: v.product_id,
        amount: v.amount, quantity: Number(v.quantity), ...(v.subsidy ? { subsidy: v.subsidy } : {}) }],
      // What the provider's signature would reserve, by the ledger's own rule (the year's share of the
      // amount, at most the voucher's available, or the smaller amount asked; Art. 10, 17).
      preview: async (v) => {
        const p = await api("/vouchers/" + enc(v.voucher_id) + "/subsidy-preview"
          + qs({ product_id: v.product_id, amount: v.amount, subsidy: v.subsidy }));
        const product = productsOf(v.provider_id).find((x) => x.product_id === v.product_id);
        return facts([["contract.provider", (providers.find((x) => x.provider_id === v.provider_id) || {}).name || v.provider_id],
          ["contract.product", product ? productLabel(product) + " × " + v.quantity : v.product_id],
          ["contract.amount", VL.yuan(p.amount)],
          ["work.share", VL.share(p.share) + " · " + t("work.share_maximum") + " " + VL.yuan(p.share_maximum)],
          ["figure.available", VL.yuan(p.available)],
          ["work.subsidy_reserved", h("b", { id: "contract-propose-reserved" }, VL.yuan(p.subsidy))],
          ["work.when", t("work.reserved_at_signature")]]);
      },
    });
    if (!card) return null;
    const form = card.querySelector("form");
    form.elements.provider_id.addEventListener("change", () => options(form.elements.product_id,
      productsOf(form.elements.provider_id.value).map((p) => [p.product_id, productLabel(p)])));
    return card;
  }

  /** A spot check (抽查, Art. 18, 21) of the page's subject, of one of its contracts or of its work as a whole. */
  function spotCheckForm(subjectType, subjectId, year, contracts) {
    return VL.actionForm({
      id: "spot-check", title: "work.spot_check", roles: ["operator", "supervisor"],
      fields: [
        { name: "contract_id", label: "work.contract_optional", type: "select", options: [["", "work.whole_work"],
          ...contracts.map((c) => [c.contract_id, null, short(c.contract_id) + " · " + VL.label("status.contract", c.status)
            + " · " + VL.yuan(c.amount)])] },
        { name: "result", label: "work.result", type: "select", options: RESULTS },
        { name: "findings", label: "work.findings", type: "textarea", max: 5000 },
        ...OPTIONAL_DOCUMENT,
      ],
      send: (v) => ["/archive/spot-checks", { subject_type: subjectType, subject_id: subjectId, result: v.result,
        findings: v.findings, documents: documents(v), ...(v.contract_id ? { contract_id: v.contract_id } : { year }) }],
    });
  }

  /** What an archive entry says, in a line: a score, a result, a finding's severity, and its text. */
  function entrySummary(e) {
    const d = e.data || {};
    const kind = e.type.split(".").pop();
    const parts = [t("work.entry." + kind, kind)];
    if (d.score !== undefined) parts.push(t("work.score") + " " + d.score);
    if (d.result) parts.push(t("work.result." + d.result, d.result));
    if (d.severity) parts.push(t("work.severity." + d.severity, d.severity));
    if (d.contract_id) parts.push(t("contract.id") + " " + short(d.contract_id));
    const text = d.findings || d.text || d.comments || "";
    return h("span", {}, h("b", {}, parts.join(" · ")), text ? h("span", { class: "muted" }, " — " + text) : null);
  }

  /** The subject's service archive (readers) and, for the operator, a finding not yet referred → a case (Art. 21, 25). */
  async function archiveCards(subjectType, subjectId) {
    const me = VL.session.me();
    if (!VL.isReader(me)) return [];
    const archive = await api("/archive/" + subjectType + "s/" + enc(subjectId));
    const entries = archive.entries.slice().reverse();  // the latest first
    const card = h("section", { class: "card", id: "archive-card" }, h("h2", {}, t("work.archive")),
      h("div", { id: "archive-entries" }));
    // Twenty at a time, the latest first, so a busy subject's page stays short.
    await VL.pagedTable(card.querySelector("#archive-entries"), [
      { label: "audit.position", render: (e) => h("span", { class: "mono" }, String(e.position)) },
      { label: "work.when", render: (e) => h("span", { class: "small" }, VL.instant(e.recorded_at)) },
      { label: "work.by", render: (e) => e.actor ? VL.label("role", e.actor.role) + " " + e.actor.id : "—" },
      { label: "work.entry", render: entrySummary },
    ], async (offset, limit) => ({ rows: entries.slice(offset, offset + limit), total: entries.length }),
    "work.archive_none", 20);
    const cards = [card];
    if (me.role !== "operator") return cards;
    const findings = entries.filter((e) => e.type.endsWith(".FindingRecorded"));
    const reports = await Promise.all([...new Set(findings.map((e) => e.data.report_id))].map((id) =>
      api("/archive/supervision-reports/" + enc(id))));
    const open = reports.flatMap((r) => r.findings.filter((f) => !f.case_id && f.subject_id === subjectId)
      .map((f) => ({ report: r, finding: f })));
    if (!open.length) return cards;
    cards.push(VL.actionForm({
      id: "finding-case", title: "work.finding_case", roles: ["operator"], hint: t("work.finding_case_hint"),
      fields: [
        { name: "finding", label: "work.finding", type: "select", options: open.map(({ report, finding }) =>
          [report.report_id + "/" + finding.index, null, report.title + " #" + (finding.index + 1) + " · "
            + t("work.severity." + finding.severity) + " · " + finding.text.slice(0, 40)]) },
        { name: "violation", label: "case.violation", type: "select", options: VIOLATIONS },
        { name: "contract_ids", label: "work.case_contracts", type: "textarea", max: 20000, placeholder: "work.case_contracts_hint" },
        { name: "note", label: "action.note", type: "textarea" },
      ],
      send: (v) => {
        const [report, index] = v.finding.split("/");
        const ids = v.contract_ids.split(/[\s,，]+/).filter(Boolean);
        return ["/archive/supervision-reports/" + enc(report) + "/findings/" + enc(index) + "/case",
          { violation: v.violation, note: v.note, ...(ids.length ? { contract_ids: ids } : {}) }];
      },
    }));
    return cards;
  }

  /* ---------- a provider: spot check, archive, finding → case ---------- */
  after("provider", async (data) => {
    const me = VL.session.me();
    if (!VL.isReader(me)) return [];
    const year = pageYear();
    // Both at once: the busiest provider's contracts and archive are each ~0.1 s at scale 0.1 (issue 19).
    const [mine, archive] = await Promise.all([api("/providers/" + enc(data.id) + "/contracts" + qs({ year, limit: 500 })),
      archiveCards("provider", data.id)]);
    return [spotCheckForm("provider", data.id, year, mine.contracts), ...archive];
  });

  /* ---------- a contract: acceptance check, satisfaction survey, hold release ---------- */
  after("contract", async (data) => {
    const c = await api("/contracts/" + enc(data.id));
    const path = "/contracts/" + enc(c.contract_id);
    const completed = c.status === "completed";
    return [
      completed ? VL.actionForm({
        id: "contract-acceptance", title: "work.acceptance", roles: ["operator", "supervisor"],
        fields: [
          { name: "result", label: "work.result", type: "select", options: RESULTS },
          { name: "findings", label: "work.findings", type: "textarea", required: true },
          ...OPTIONAL_DOCUMENT,
        ],
        send: (v) => [path + "/acceptance", { result: v.result, findings: v.findings, documents: documents(v) }],
        // A failed check takes the subsidy out of `used` and back to the voucher (DOMAIN.md "Stops" 5).
        preview: async (v) => facts([["contract.id", c.contract_id], ["work.result", t("work.result." + v.result)],
          ["contract.subsidy", VL.yuan(c.subsidy)],
          ["work.effect", v.result === "failed" ? h("b", { class: "warn" }, t("work.acceptance_failed_effect"))
            : t("work.acceptance_passed_effect")]]),
      }) : null,
      completed ? VL.actionForm({
        id: "contract-survey", title: "work.survey", roles: ["operator"],
        fields: [
          { name: "score", label: "work.score", type: "select", value: "5",
            options: [5, 4, 3, 2, 1].map((s) => [String(s), "work.score." + s]) },
          { name: "comments", label: "work.comments", type: "textarea", max: 5000 },
        ],
        send: (v) => ["/archive/surveys", { contract_id: c.contract_id, score: Number(v.score), comments: v.comments }],
      }) : null,
      c.hold ? VL.actionForm({
        id: "hold-release", title: "work.hold_release", roles: ["approver"], hint: t("work.hold_release_hint"),
        fields: [{ name: "reason", label: "action.reason", type: "textarea", required: true }, ...OPTIONAL_DOCUMENT],
        send: (v) => [path + "/hold-release", { reason: v.reason, documents: documents(v) }],
        // The release makes the contract's subsidy claimable and payable again (DOMAIN.md "Stops" 1).
        preview: async () => facts([["contract.id", c.contract_id], ["common.status", VL.badge("contract", c.status)],
          ["work.hold_reason", c.hold.reason || "—"], ["work.held_since", "#" + c.hold.since_position],
          ["work.claimable_again", h("b", {}, VL.yuan(c.subsidy))]]),
      }) : null,
    ];
  });

  /* ---------- a batch: resolve an objection to a disputed contract (approver, Art. 20) ---------- */
  after("settlement", async (data) => {
    // Only an approver resolves, objections come with the notice, and none is resolved while paying
    // (ledger/domain/settlement.py): the others never read the whole batch (a paid batch of a year lists
    // thousands of contracts, issue 19).
    if (VL.session.me().role !== "approver") return [];
    const head = await api("/settlements/" + enc(data.id) + qs({ claims_limit: 1 }));
    if (["open", "approved", "paying"].includes(head.status)) return [];
    const b = await api("/settlements/" + enc(data.id));
    const disputed = (b.claims || []).flatMap((claim) => Object.entries(claim.disputes || {})
      .filter(([, state]) => state === "open")
      .map(([contractId]) => ({ claim, contractId,
        amount: ((claim.contracts || []).find((l) => l.contract_id === contractId) || {}).amount })));
    if (!disputed.length) return [];
    const find = (id) => disputed.find((d) => d.contractId === id);
    return [VL.actionForm({
      id: "objection-resolution", title: "work.resolution", roles: ["approver"],
      fields: [
        { name: "contract_id", label: "contract.id", type: "select", options: disputed.map((d) =>
          [d.contractId, null, short(d.contractId) + " · " + d.claim.provider_id + " · " + VL.yuan(d.amount)]) },
        { name: "decision", label: "action.decision", type: "select",
          options: [["dismissed", "work.decision.dismissed"], ["upheld", "work.decision.upheld"]] },
        { name: "note", label: "action.note", type: "textarea", required: true },
      ],
      send: (v) => ["/settlements/" + enc(b.batch_id) + "/objections/" + enc(v.contract_id) + "/resolution",
        { decision: v.decision, note: v.note }],
      // Dismissed: paid with its batch; upheld: fails acceptance, its subsidy goes back (DOMAIN.md "Stops" 6).
      preview: async (v) => {
        const d = find(v.contract_id);
        return facts([["contract.id", v.contract_id], ["claim.id", short(d.claim.claim_id)],
          ["contract.provider", d.claim.provider_id], ["claim.amount", VL.yuan(d.amount)],
          ["work.effect", h("b", { class: v.decision === "upheld" ? "warn" : null },
            t("work.resolution_effect." + v.decision))]]);
      },
    })];
  });

  /* ---------- the audit page: the supervisor's report with its findings (Art. 21) ---------- */
  after("audit", async () => {
    const year = VL.thisYear();
    const card = VL.actionForm({
      id: "supervision-report", title: "work.report", roles: ["supervisor"],
      fields: [
        { name: "year", label: "common.year", type: "select", options: [year - 1, year, year + 1].map((y) => [y, null]), value: year },
        { name: "title", label: "work.report_title", required: true },
        ...OPTIONAL_DOCUMENT,
      ],
      send: (v) => ["/archive/supervision-reports", { year: Number(v.year), title: v.title,
        findings: readFindings(), documents: documents(v) }],
    });
    if (!card) return [];
    // The findings: rows added as the supervisor needs them; empty rows are left out.
    const rows = h("div", { class: "findings", id: "report-findings" });
    const add = h("button", { type: "button", class: "secondary", id: "report-add-finding" }, t("work.add_finding"));
    add.addEventListener("click", () => rows.append(findingRow(rows.children.length)));
    rows.append(findingRow(0));
    const form = card.querySelector("form");
    form.insertBefore(h("fieldset", { class: "finding-rows" }, h("legend", {}, t("work.findings")), rows, add),
      form.querySelector(".row"));
    return [card];
  });

  function findingRow(index) {
    const select = (name, list) => h("select", { name }, list.map(([value, key]) => h("option", { value }, t(key))));
    const field = (label, control) => h("label", { class: "field" }, h("span", {}, t(label)), control);
    return h("div", { class: "finding-row", "data-index": index },
      field("case.subject", select("finding_subject_type", SUBJECT_TYPES)),
      field("enterprise.code", h("input", { name: "finding_subject_id", maxlength: 18, autocomplete: "off" })),
      field("work.contract_optional", h("input", { name: "finding_contract_id", maxlength: 36, autocomplete: "off" })),
      field("work.severity", select("finding_severity", SEVERITIES)),
      field("work.finding_text", h("textarea", { name: "finding_text", rows: 2, maxlength: 5000 })));
  }

  function readFindings() {
    return [...document.querySelectorAll("#report-findings .finding-row")].map((row) => {
      const value = (name) => row.querySelector("[name='" + name + "']").value.trim();
      return { subject_type: value("finding_subject_type"), subject_id: value("finding_subject_id"),
        severity: value("finding_severity"), text: value("finding_text"),
        ...(value("finding_contract_id") ? { contract_id: value("finding_contract_id") } : {}) };
    }).filter((f) => f.subject_id || f.text);
  }

  /* ---------- webhook subscriptions: the list (readers) and a new one (operator) ---------- */
  // The page is in the navigation of every reader; wrapping keeps core.js's own list untouched.
  const nav = VL.nav;
  VL.nav = function (me) {
    nav(me);
    if (!VL.isReader(me)) return;
    const href = VL.consoleUrl("/webhooks");
    $("#vl-nav").append(h("a", { href, class: location.pathname.startsWith(href) ? "active" : null,
      "data-i18n": "nav.webhooks" }, t("nav.webhooks")));
  };

  VL.pages.webhooks = async function () {
    const list = await api("/webhooks");
    $("#webhook-list").append(VL.table([
      { label: "work.webhook_id", render: (w) => h("span", { class: "mono", title: w.id }, short(w.id)) },
      { label: "work.webhook_url", render: (w) => h("span", { class: "mono webhook-url" }, w.url) },
      { label: "work.webhook_types", render: (w) => w.types.length ? w.types.join(", ") : t("work.every_event") },
      { label: "work.webhook_delivered", num: true, render: (w) => "#" + w.delivered },
      { label: "work.by", render: (w) => h("span", { class: "small" }, w.created_by, h("br"), VL.instant(w.created_at)) },
    ], list.webhooks, "work.webhook_none"));
  };

  after("webhooks", () => [VL.actionForm({
    id: "webhook-new", title: "work.webhook_new", roles: ["operator"], hint: t("work.webhook_hint"),
    fields: [
      { name: "url", label: "work.webhook_url", type: "url", required: true, max: 2000, placeholder: "work.webhook_url_hint" },
      { name: "types", label: "work.webhook_types", placeholder: "work.webhook_types_hint", max: 2000 },
      { name: "secret", label: "work.webhook_secret", type: "password", required: true, max: 256 },
    ],
    send: (v) => {
      const types = v.types.split(/[\s,，]+/).filter(Boolean);
      return ["/webhooks", { url: v.url, secret: v.secret, ...(types.length ? { types } : {}) }];
    },
  })]);
})(window.VL);
