/* Voucher Ledger console: the rarer commands of years and parties (issue 19), as forms.
 *
 * Built on VL.actionForm (actions.js): each form shows only for the roles the API lets act, carries
 * the Idempotency-Key drawn with it, and shows a refusal in Chinese with its details. Money moved
 * outside a contract (a year's budget, a cap exception, a recovery) is previewed and confirmed.
 *
 * Where each form lives:
 * - a year (/console/years/Y): open a year (approver), fund it (finance), its special programme
 *   (approver). Opening is offered even when the year shown does not exist yet (a new ledger);
 * - registration of a new enterprise or provider: on the look-up page for the operator (where a
 *   clerk searches first, and the subject has no page yet), and on the subject's own page for an
 *   enterprise or provider signed in before it is registered (its home page answers 404 until then);
 * - an enterprise: verification of honours, amendment, designation (operator), its commitment
 *   (the enterprise itself); the special voucher is in the issue form of actions.js;
 * - a provider: amendment (operator, the provider itself), cap exception (approver), recovery
 *   (finance), a product (the provider itself), its commitment (the provider itself).
 *
 * Documents go by reference (name, uri, sha256, size, kind), one a line in a text box, as a clerk
 * pastes them from the document system: "kind, name, uri, sha256, size" (kind may be left empty;
 * an honour certificate is "honour_certificate:HONOUR").
 */
"use strict";

(function (VL) {
  const { h, t, api, qs } = VL;
  const enc = encodeURIComponent;
  const facts = (rows) => VL.facts(rows, "compact");

  const HONOURS = ["national_single_champion", "little_giant", "regional_single_champion", "regional_specialised_sme",
    "gazelle", "ip_advantage", "quality_benchmark", "famous_product", "tech_sme", "regional_innovative_sme",
    "digital_workshop", "itc_integration", "digital_maturity_3", "national_cluster_member", "newly_above_scale"];
  const CATEGORIES = ["diagnosis", "digital_transformation", "tech_innovation", "management_consulting", "market_expansion",
    "financing", "testing_certification", "legal", "human_resources", "demonstration_application", "other"];
  const DOCUMENT_KINDS = ["application_form", "licence", "last_year_contracts", "qualification", "social_insurance",
    "tax_registration", "other", "honour_certificate"];
  const ENTERPRISE_FLAGS = [["registered_in_guangxi", true], ["legal_person", true], ["social_insurance", true],
    ["industry_aligned", true], ["dishonest", false], ["major_violation", false]];
  const PROVIDER_FLAGS = [["registered_in_guangxi", true], ["fixed_premises", true], ["tax_compliant", true],
    ["accepts_supervision", true], ["accepts_face_value_offset", true], ["dishonest", false]];
  const ENTITY_TYPES = [["legal_person", "entity.legal_person"], ["partnership", "entity.partnership"]];
  const KINDS = [["general", "kind.general"], ["special", "kind.special"]];

  /** The years the API accepts (last, this, next), with `current` chosen. */
  const years = (current) => {
    const now = VL.thisYear();
    return { type: "select", options: [now - 1, now, now + 1].map((y) => [y, null]), value: current || now };
  };
  const params = () => new URLSearchParams(location.search);
  const pageYear = () => Number(params().get("year")) || VL.thisYear();
  const honourChecks = (name) => ({ name, label: "field.honours", type: "checks",
    options: HONOURS.map((code) => [code, t("honour." + code, code)]) });
  const documentsField = (required) => ({ name: "documents", label: "forms.documents", type: "textarea", max: 20000,
    required, placeholder: "forms.documents_hint" });
  /** A form's boolean facts as checkboxes with their usual answer ticked. */
  const flagFields = (flags) => flags.map(([name, usual]) => ({ name, label: "field." + name, type: "checkbox", value: usual }));
  /** A boolean an amendment may leave alone: unchanged, yes or no. */
  const changeFlag = (name) => ({ name, label: "field." + name, type: "select",
    options: [["", "forms.unchanged"], ["true", "common.yes"], ["false", "common.no"]] });

  /** A syntax refusal made in the page, shown as the API would show it (nothing is sent). */
  const invalid = (field, message) => new VL.ApiError(400, { error: { code: "VALIDATION_ERROR", message,
    details: { [field]: [message] } } });
  /** A count as the API wants it: an integer, or the text as typed so the API names what is wrong. */
  const integer = (text) => (/^\d+$/.test(text) ? Number(text) : text);

  /** The documents typed one a line ("kind, name, uri, sha256, size") as the API's references. */
  function parseDocuments(text) {
    return text.split(/\n/).map((line) => line.trim()).filter(Boolean).map((line, index) => {
      const parts = line.split(/\s*[,，|\t]\s*/);
      if (parts.length !== 5) throw invalid("documents", t("forms.documents_line") + " " + (index + 1) + ": " + t("forms.documents_hint"));
      const [kindText, name, uri, sha256, size] = parts;
      const [kind, honour] = kindText.split(":");
      const document = { name, uri, sha256: sha256.toLowerCase(), size: integer(size) };
      if (kind) document.kind = kind;
      if (honour) document.honour = honour;
      return document;
    });
  }

  /** Only the fields given: a blank optional field is left for the API's default. */
  const given = (entries) => Object.fromEntries(entries.filter(([, value]) => value !== "" && value !== undefined));

  /** Yuan strings a + sign·b as "¥…", when both are well-formed (preview only: the API decides). */
  function plus(a, b, sign) {
    const fen = (x) => {
      const [whole, cents = ""] = String(x).replace("-", "").split(".");
      const n = BigInt(whole) * 100n + BigInt((cents + "00").slice(0, 2));
      return String(x).startsWith("-") ? -n : n;
    };
    const ok = (x) => /^-?\d+(\.\d{1,2})?$/.test(String(x));
    return ok(a) && ok(b) ? VL.fenToYuan(fen(a) + BigInt(sign || 1) * fen(b)) : null;
  }

  /** Tick a card's checkboxes named `name` whose value is in `values` (what is held now). */
  function tick(card, name, values) {
    if (!card) return card;
    const held = new Set(values);
    card.querySelectorAll("input[name='" + name + "']").forEach((box) => { box.checked = held.has(box.value); });
    return card;
  }

  /**
   * Run `add(data, failure)` after a page's own rendering and place its cards. Unlike actions.js's hook,
   * a page that finds nothing (404: a year not opened, a subject not registered) still gets the forms
   * that create it; any other failure is the page's as before.
   */
  function onPage(page, add) {
    const original = VL.pages[page];
    VL.pages[page] = async function (data) {
      VL.showFlash();  // pages without actions.js's own hook (the look-up page) show the notice too
      let failure = null;
      try {
        if (original) await original(data);
      } catch (error) {
        if (!(error instanceof VL.ApiError) || error.status !== 404) throw error;
        failure = error;
        VL.fail(error);
      }
      VL.placeActions(await add(data, failure));
    };
  }

  /* ---------- registration: a new enterprise or provider ---------- */
  function enterpriseRegistration(id) {
    return VL.actionForm({
      id: "enterprise-register", title: "forms.register_enterprise", roles: id ? ["enterprise"] : ["operator"],
      hint: t("forms.register_hint"),
      fields: [
        { name: "id", label: "field.code", required: true, max: 18, value: id || "" },
        { name: "name", label: "field.name", required: true },
        { name: "employees", label: "field.employees", type: "number", required: true },
        { name: "revenue", label: "field.revenue_fen", required: true, placeholder: "forms.yuan_hint" },
        ...flagFields(ENTERPRISE_FLAGS), honourChecks("honours"), documentsField(false),
      ],
      send: (v) => ["/enterprises", { id: v.id, name: v.name, employees: integer(v.employees), revenue: v.revenue,
        ...Object.fromEntries(ENTERPRISE_FLAGS.map(([name]) => [name, v[name]])), honours: v.honours,
        documents: parseDocuments(v.documents) }],
    });
  }

  function providerRegistration(id) {
    return VL.actionForm({
      id: "provider-register", title: "forms.register_provider", roles: id ? ["provider"] : ["operator"],
      hint: t("forms.register_hint"),
      fields: [
        { name: "id", label: "field.code", required: true, max: 18, value: id || "" },
        { name: "name", label: "field.name", required: true },
        { name: "entity_type", label: "field.entity_type", type: "select", options: ENTITY_TYPES },
        { name: "years_operating", label: "field.years_operating", type: "number", required: true },
        { name: "core_staff_insured", label: "field.core_staff_insured", type: "number", required: true },
        { name: "clients_last_year", label: "field.clients_last_year", type: "number", required: true },
        { name: "revenue_last_year", label: "field.revenue_last_year_fen", required: true, placeholder: "forms.yuan_hint" },
        ...flagFields(PROVIDER_FLAGS), documentsField(false),
      ],
      send: (v) => ["/providers", { id: v.id, name: v.name, entity_type: v.entity_type,
        years_operating: integer(v.years_operating), core_staff_insured: integer(v.core_staff_insured),
        clients_last_year: integer(v.clients_last_year), revenue_last_year: v.revenue_last_year,
        ...Object.fromEntries(PROVIDER_FLAGS.map(([name]) => [name, v[name]])), documents: parseDocuments(v.documents) }],
    });
  }

  onPage("search", () => [enterpriseRegistration(null), providerRegistration(null)]);

  /** A credit commitment for the signed-in enterprise or provider itself (Art. 22). */
  const commitment = () => VL.actionForm({
    id: "commitment", title: "forms.commitment", roles: ["enterprise", "provider"],
    fields: [{ name: "year", label: "common.year", ...years(pageYear()) },
      { name: "text", label: "forms.commitment_text", type: "textarea", required: true, max: 5000 }, documentsField(false)],
    send: (v) => ["/archive/commitments", { year: Number(v.year), text: v.text, documents: parseDocuments(v.documents) }],
  });

  /** An amendment's body: the changes named (blank fields unchanged), its reason and documents. */
  const amendment = (changes, v) => ({ changes, reason: v.reason, documents: parseDocuments(v.documents) });
  const flagChanges = (flags, v) => flags.filter(([name]) => v[name]).map(([name]) => [name, v[name] === "true"]);
  const AMENDMENT_TAIL = [{ name: "reason", label: "action.reason", type: "textarea", required: true }, documentsField(false)];

  /* ---------- an enterprise ---------- */
  onPage("enterprise", async (data, failure) => {
    const me = VL.session.me();
    if (failure) return [me && me.subject === data.id ? enterpriseRegistration(data.id) : null];
    const path = "/enterprises/" + enc(data.id);
    const enterprise = VL.isReader(me) ? await api(path) : null;
    // Only declared honours can be verified: they are offered, the ones not yet verified ticked.
    const declared = enterprise ? enterprise.honours || [] : [];
    const verification = tick(VL.actionForm({
      id: "enterprise-verification", title: "forms.verify_honours", roles: ["operator"], hint: t("forms.verify_hint"),
      fields: [{ name: "honours", label: "field.honours", type: "checks", emptyKey: "forms.no_honours",
        options: declared.map((x) => [x.code, t("honour." + x.code, x.code) + (x.verified ? " ✓" : "")]) }, documentsField(true)],
      send: (v) => [path + "/verification", { honours: v.honours, documents: parseDocuments(v.documents) }],
    }), "honours", declared.filter((x) => !x.verified).map((x) => x.code));
    return [
      verification,
      VL.actionForm({
        id: "enterprise-amendment", title: "forms.amend_enterprise", roles: ["operator"], hint: t("forms.amend_hint"),
        fields: [
          { name: "name", label: "field.name" },
          { name: "employees", label: "field.employees", type: "number" },
          { name: "revenue", label: "field.revenue_fen", placeholder: "forms.yuan_hint" },
          ...ENTERPRISE_FLAGS.map(([name]) => changeFlag(name)),
          { name: "amend_honours", label: "forms.amend_honours", type: "checkbox" },
          honourChecks("new_honours"), ...AMENDMENT_TAIL,
        ],
        send: (v) => [path + "/amendments", amendment(given([["name", v.name], ["employees", integer(v.employees)],
          ["revenue", v.revenue], ...flagChanges(ENTERPRISE_FLAGS, v),
          ["honours", v.amend_honours ? v.new_honours : undefined]]), v)],
      }),
      VL.actionForm({
        id: "enterprise-designation", title: "forms.designate", roles: ["operator"],
        fields: [{ name: "year", label: "common.year", ...years(pageYear()) },
          { name: "designation", label: "action.designation", type: "select",
            options: VL.DESIGNATIONS.map((d) => [d, "designation." + d]) },
          { name: "reference", label: "forms.designation_reference", required: true }, documentsField(false)],
        send: (v) => [path + "/designations", { year: Number(v.year), designation: v.designation, reference: v.reference,
          documents: parseDocuments(v.documents) }],
      }),
      commitment(),
    ];
  });

  /* ---------- a provider ---------- */
  onPage("provider", async (data, failure) => {
    const me = VL.session.me();
    if (failure) return [me && me.subject === data.id ? providerRegistration(data.id) : null];
    const path = "/providers/" + enc(data.id);
    const own = me && me.subject === data.id;
    const totals = (year) => api(path + "/totals" + qs({ year })).catch((error) => {
      if (error instanceof VL.ApiError && error.status === 404) return null;  // not signed that year: no figures
      throw error;
    });
    return [
      VL.actionForm({
        id: "provider-amendment", title: "forms.amend_provider", roles: own ? ["provider"] : ["operator"],
        hint: t("forms.amend_hint"),
        fields: [
          { name: "name", label: "field.name" },
          { name: "entity_type", label: "field.entity_type", type: "select", options: [["", "forms.unchanged"], ...ENTITY_TYPES] },
          { name: "years_operating", label: "field.years_operating", type: "number" },
          { name: "core_staff_insured", label: "field.core_staff_insured", type: "number" },
          { name: "clients_last_year", label: "field.clients_last_year", type: "number" },
          { name: "revenue_last_year", label: "field.revenue_last_year_fen", placeholder: "forms.yuan_hint" },
          ...PROVIDER_FLAGS.map(([name]) => changeFlag(name)), ...AMENDMENT_TAIL,
        ],
        send: (v) => [path + "/amendments", amendment(given([["name", v.name], ["entity_type", v.entity_type],
          ["years_operating", integer(v.years_operating)], ["core_staff_insured", integer(v.core_staff_insured)],
          ["clients_last_year", integer(v.clients_last_year)], ["revenue_last_year", v.revenue_last_year],
          ...flagChanges(PROVIDER_FLAGS, v)]), v)],
      }),
      VL.actionForm({
        id: "provider-cap-exception", title: "forms.cap_exception", roles: ["approver"],
        fields: [{ name: "year", label: "common.year", ...years(pageYear()) },
          { name: "kind", label: "voucher.kind", type: "select", options: KINDS },
          { name: "amount", label: "field.amount", required: true, placeholder: "forms.yuan_hint" },
          { name: "reason", label: "action.reason", type: "textarea", required: true }],
        send: (v) => [path + "/cap-exceptions", { year: Number(v.year), kind: v.kind, amount: v.amount, reason: v.reason }],
        // The cap the provider has now and after the exception (Art. 17); a special exception widens the special cap.
        preview: async (v) => {
          const now = await totals(v.year);
          const remaining = now && v.kind === "general" ? now.remaining_cap : null;
          return facts([["common.year", String(v.year)], ["voucher.kind", VL.label("kind", v.kind)],
            ["figure.cap", now ? VL.yuan(now.cap) : "—"], ["figure.exceptions", now ? VL.yuan(now.exceptions) : "—"],
            ["forms.exception_amount", h("b", {}, VL.yuan(v.amount))],
            ["figure.remaining_cap", remaining === null ? "—" : VL.yuan(remaining) + " → " + (plus(remaining, v.amount) || "—")]]);
        },
      }),
      VL.actionForm({
        id: "provider-recovery", title: "forms.recovery", roles: ["finance"], hint: t("forms.recovery_hint"),
        fields: [{ name: "year", label: "common.year", ...years(pageYear()) },
          { name: "amount", label: "field.amount", required: true, placeholder: "forms.yuan_hint" },
          { name: "reference", label: "field.reference", required: true }],
        send: (v) => [path + "/recoveries", { year: Number(v.year), amount: v.amount, reference: v.reference }],
        preview: async (v) => {
          const now = await totals(v.year);
          const owed = now ? now.receivable : null;
          return facts([["common.year", String(v.year)], ["figure.receivable", VL.yuan(owed)],
            ["forms.recovered", h("b", {}, VL.yuan(v.amount))],
            ["forms.receivable_after", owed === null ? "—" : plus(owed, v.amount, -1) || "—"]]);
        },
      }),
      own ? VL.actionForm({
        id: "product-submit", title: "forms.submit_product", roles: ["provider"], hint: t("forms.product_hint"),
        fields: [{ name: "name", label: "product.name", required: true },
          { name: "category", label: "product.category", type: "select", options: CATEGORIES.map((c) => [c, "category." + c]) },
          { name: "price", label: "product.price", required: true, placeholder: "forms.yuan_hint" },
          { name: "description", label: "field.description", type: "textarea", max: 5000 }],
        send: (v) => ["/products", { provider_id: data.id, name: v.name, category: v.category, price: v.price,
          description: v.description }],
      }) : null,
      commitment(),
    ];
  });

  /* ---------- a year: open one, fund it, set its special programme ---------- */
  onPage("year", async (data, failure) => {
    const shown = Number(location.pathname.split("/").pop()) || Number(data.year) || VL.thisYear();
    // Only the approver's forms need the years opened and the programme set (the others fetch on preview).
    const approver = (VL.session.me() || {}).role === "approver";
    const opened = approver ? (await api("/years")).years.map((y) => y.year) : [];
    const next = [VL.thisYear(), VL.thisYear() + 1].find((y) => !opened.includes(y));
    const info = failure || !approver ? null : await api("/years/" + shown);
    const programme = (info && info.special_programme) || null;
    const yearPath = "/years/" + shown;
    return [
      VL.actionForm({
        id: "year-open", title: "forms.open_year", roles: ["approver"], hint: t("forms.open_year_hint"),
        fields: [
          { name: "year", label: "common.year", ...years(next || shown) },
          { name: "starts_on", label: "field.starts_on", type: "date", required: true },
          { name: "ends_on", label: "field.ends_on", type: "date", required: true },
          ...["T1", "T2", "T3", "T4"].map((tier) => ({ name: tier, label: "forms.quota_" + tier, placeholder: "forms.default_hint" })),
          { name: "diagnosis_share", label: "year.diagnosis_share", placeholder: "forms.share_hint" },
          { name: "other_share", label: "year.other_share", placeholder: "forms.share_hint" },
          { name: "deposit_share", label: "year.deposit_share", placeholder: "forms.share_hint" },
          { name: "provider_cap", label: "year.provider_cap", placeholder: "forms.default_hint" },
          { name: "settlement_batches", label: "forms.settlement_batches", type: "select",
            options: [["", "forms.default"], ["1", null], ["2", null]] },
          { name: "commitment_required", label: "forms.commitment_required", type: "checkbox" },
        ],
        send: (v) => {
          const quotas = given(["T1", "T2", "T3", "T4"].map((tier) => [tier, v[tier]]));
          return ["/years", { year: Number(v.year), starts_on: v.starts_on, ends_on: v.ends_on,
            ...(Object.keys(quotas).length ? { tier_quotas: quotas } : {}),
            ...given([["diagnosis_share", v.diagnosis_share], ["other_share", v.other_share],
              ["deposit_share", v.deposit_share], ["provider_cap", v.provider_cap],
              ["settlement_batches", v.settlement_batches ? Number(v.settlement_batches) : ""]]),
            commitment_required: v.commitment_required }];
        },
      }),
      failure ? null : VL.actionForm({
        id: "year-budget", title: "forms.budget", roles: ["finance"], hint: t("forms.budget_hint"),
        fields: [{ name: "amount", label: "field.amount", required: true, placeholder: "forms.yuan_hint" },
          { name: "reference", label: "field.reference", required: true }],
        send: (v) => [yearPath + "/budget", { amount: v.amount, reference: v.reference }],
        preview: async (v) => {
          const now = await api(yearPath);
          return facts([["common.year", String(shown)], ["figure.budget", VL.yuan(now.budget)],
            ["forms.budget_added", h("b", {}, VL.yuan(v.amount))], ["forms.budget_after", plus(now.budget, v.amount) || "—"],
            ["field.reference", v.reference]]);
        },
      }),
      failure ? null : tick(VL.actionForm({
        id: "year-special", title: "forms.special_programme", roles: ["approver"], method: "PUT",
        hint: t("forms.special_hint"),
        fields: [
          ...VL.DESIGNATIONS.map((d) => ({ name: "quota_" + d, label: "designation." + d, placeholder: "forms.quota_hint",
            value: programme && programme.quotas[d] ? programme.quotas[d] : "" })),
          { name: "categories", label: "forms.special_categories", type: "checks",
            options: CATEGORIES.map((c) => [c, t("category." + c)]) },
          { name: "provider_cap", label: "forms.special_cap", placeholder: "forms.no_cap_hint",
            value: programme && programme.provider_cap ? programme.provider_cap : "" },
          { name: "reference", label: "forms.programme_reference", required: true, value: programme ? programme.reference : "" },
          documentsField(false),
        ],
        send: (v) => [yearPath + "/special-programme", {
          quotas: given(VL.DESIGNATIONS.map((d) => [d, v["quota_" + d]])), categories: v.categories,
          provider_cap: v.provider_cap || null, reference: v.reference, documents: parseDocuments(v.documents) }],
      }), "categories", programme ? programme.categories : []),
    ];
  });
})(window.VL);
