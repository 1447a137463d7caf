/* Voucher Ledger console: sign-in, the year dashboard, look-ups, enterprises, providers, contracts. */
"use strict";

(function (VL) {
  const { h, t, $, api, qs } = VL;
  const enc = encodeURIComponent;
  const short = (id) => (id ? String(id).slice(0, 8) : "—");
  const params = () => new URLSearchParams(location.search);

  /** Options for a year <select>; changing it reloads the page with ?year=. */
  function yearPicker(years, current, onChange) {
    const select = h("select", { id: "year-select", "aria-label": t("common.year") },
      years.map((y) => h("option", { value: y, selected: Number(y) === Number(current) }, String(y))));
    select.addEventListener("change", () => onChange(select.value));
    return h("label", { class: "inline" }, h("span", {}, t("common.year")), select);
  }
  const reloadWithYear = (year) => { const p = params(); p.set("year", year); location.search = p.toString(); };

  /** A contract's id as a link to its page, and the usual contract columns. */
  function contractColumns(me, options) {
    const reader = VL.isReader(me);
    const cols = [
      { label: "contract.id", render: (c) => VL.link(VL.consoleUrl("/contracts/" + enc(c.contract_id)), short(c.contract_id), "mono") },
    ];
    if (!options || !options.hideEnterprise) {
      cols.push({ label: "contract.enterprise", render: (c) => reader
        ? VL.link(VL.consoleUrl("/enterprises/" + enc(c.enterprise_id)), c.enterprise_name || c.enterprise_id)
        : (c.enterprise_name || c.enterprise_id) });
    }
    if (!options || !options.hideProvider) {
      cols.push({ label: "contract.provider", render: (c) => reader
        ? VL.link(VL.consoleUrl("/providers/" + enc(c.provider_id) + qs({ year: c.year })), c.provider_name || c.provider_id)
        : (c.provider_name || c.provider_id) });
    }
    cols.push(
      { label: "contract.product", render: (c) => h("span", {}, c.product_name || short(c.product_id), " ",
        h("small", { class: "muted" }, VL.label("category", c.category)),
        c.kind === "special" ? [" ", h("small", { class: "badge kind-special" }, VL.label("kind", c.kind))] : null) },
      { label: "contract.amount", num: true, render: (c) => VL.yuan(c.amount) },
      { label: "contract.subsidy", num: true, render: (c) => VL.yuan(c.subsidy) },
      { label: "common.status", render: (c) => h("span", {}, VL.badge("contract", c.status),
        c.settled ? [" ", VL.badge("contract", "settled")] : null, c.hold ? [" ", VL.badge("contract", "held")] : null) },
      { label: "contract.trace", render: (c) => VL.link(VL.consoleUrl("/trace/contracts/" + enc(c.contract_id)), t("common.trace")) },
    );
    return cols;
  }
  VL.contractColumns = contractColumns;

  /* ---------- home and sign-in ---------- */
  VL.pages.home = function () {
    location.replace(VL.homeOf(VL.session.me()));
  };

  VL.pages.login = function () {
    const notice = sessionStorage.getItem("vl.notice");
    const message = $("#login-message");
    if (notice) { message.textContent = t(notice); message.hidden = false; sessionStorage.removeItem("vl.notice"); }
    const me = VL.session.me();
    if (me && VL.session.token()) {
      $("#login-current").hidden = false;
      $("#login-current-role").textContent = VL.label("role", me.role) + " · " + me.id;
      $("#login-continue").href = VL.homeOf(me);
    }
    $("#login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = $("#login-token");
      const token = input.value.trim();
      message.hidden = true;
      if (!token) return;
      try {
        const who = await api("/me", token);
        VL.session.save(token, who);
        await VL.session.open(token).catch(() => null);  // the cookie that signs in this person's other tabs
        input.value = "";
        const next = sessionStorage.getItem("vl.next");
        sessionStorage.removeItem("vl.next");
        const safe = next && next.startsWith("/console/") && !next.startsWith("/console/login") ? next : null;
        location.assign(safe || VL.homeOf(who));
      } catch (error) {
        message.textContent = error.status === 401 ? t("login.invalid") : t("error.network");
        message.hidden = false;
      }
    });
  };

  /* ---------- the year dashboard (operator, settlement clerk, supervisor, auditor) ---------- */
  VL.pages.year = async function (data) {
    const listed = await api("/years");
    const years = listed.years.map((y) => y.year);
    const year = Number(data.year) || years[0] || VL.thisYear();
    if (!data.year) history.replaceState(null, "", VL.consoleUrl("/years/" + year));
    $("#year-title").textContent = t("page.year") + " · " + year;
    $("#year-picker").append(yearPicker(years.length ? years : [year], year,
      (y) => location.assign(VL.consoleUrl("/years/" + y))));
    const [info, monthly] = await Promise.all([api("/years/" + year), api("/years/" + year + "/monthly")]);
    $("#year-status").append(VL.badge("year", info.status));
    $("#year-figures").append(VL.figures([
      ["figure.budget", info.budget, "strong"], ["figure.issued", info.issued], ["figure.available", info.available],
      ["figure.reserved", info.reserved], ["figure.used", info.used], ["figure.expired", info.expired],
      ["figure.clawed_back", info.clawed_back], ["figure.settled", info.settled, "strong"],
    ]));
    VL.charts.states($("#chart-states"), info);
    VL.charts.monthly($("#chart-monthly"), monthly.months);
    $("#year-params").append(VL.facts([
      ["year.window", info.starts_on + " — " + info.ends_on],
      ["year.vouchers", String(info.vouchers)],
      ["figure.unissued", VL.yuan(info.unissued)],
      ["year.tier_quotas", Object.entries(info.tier_quotas || {}).map(([tier, q]) => tier + " " + VL.yuan(q)).join(" · ")],
      ["year.diagnosis_share", VL.share(info.diagnosis_share)], ["year.other_share", VL.share(info.other_share)],
      ["year.deposit_share", VL.share(info.deposit_share)], ["year.provider_cap", VL.yuan(info.provider_cap)],
      // Each kind's share of the figures (专项券/通用券, issue 17) and the year's special programme.
      ...Object.entries(info.by_kind || {}).map(([kind, k]) => ["kind." + kind, [
        t("figure.issued") + " " + VL.yuan(k.issued), t("figure.used") + " " + VL.yuan(k.used),
        t("figure.settled") + " " + VL.yuan(k.settled)].join(" · ")]),
      ...(info.special_programme ? [["year.special_programme", Object.entries(info.special_programme.quotas)
        .map(([d, q]) => VL.label("designation", d) + " " + VL.yuan(q)).join(" · ") + " · " + t("year.provider_cap") + " "
        + (info.special_programme.provider_cap === null ? "—" : VL.yuan(info.special_programme.provider_cap))]] : []),
    ]));
    const statusSelect = $("#contract-status");
    const loadContracts = async () => {
      const box = VL.clear($("#year-contracts"));
      try {
        await VL.pagedTable(box, contractColumns(VL.session.me()), async (offset, limit) => {
          const result = await api("/contracts" + qs({ year, status: statusSelect.value, kind: kindSelect.value,
            sort: sortSelect.value, q: idInput.value.trim(), offset, limit }));
          return { rows: result.contracts, total: result.total };
        }, "contract.none");
      } catch (error) { VL.fail(error, box); }
    };
    const sortSelect = $("#contract-sort"), idInput = $("#contract-q"), kindSelect = $("#contract-kind");
    statusSelect.addEventListener("change", loadContracts);
    kindSelect.addEventListener("change", loadContracts);
    sortSelect.addEventListener("change", loadContracts);
    $("#contract-filter").addEventListener("submit", (event) => { event.preventDefault(); loadContracts(); });
    await Promise.all([loadContracts(), VL.loadBatches && VL.loadBatches($("#year-batches"), year)]);
  };

  /* ---------- search by credit code or name ---------- */
  VL.pages.search = function () {
    const form = $("#search-form"), input = $("#search-q");
    const p = params();
    input.value = p.get("q") || "";
    if (p.get("kind") === "providers") $("#search-kind-providers").checked = true;
    if (p.get("kind") === "contracts") $("#search-kind-contracts").checked = true;
    const run = async () => {
      const q = input.value.trim();
      const kind = $("#search-kind-providers").checked ? "providers"
        : $("#search-kind-contracts").checked ? "contracts" : "enterprises";
      const box = VL.clear($("#search-results"));
      if (!q) return;
      history.replaceState(null, "", location.pathname + qs({ q, kind }));
      if (kind === "contracts") {  // by the start of a contract id, in this year (issue 19)
        const year = VL.thisYear();
        try {
          await VL.pagedTable(box, contractColumns(VL.session.me()), async (offset, limit) => {
            const result = await api("/contracts" + qs({ year, q, offset, limit }));
            return { rows: result.contracts, total: result.total };
          }, "search.none");
        } catch (error) { VL.fail(error, box); }
        return;
      }
      try {
        const columns = kind === "enterprises" ? [
          { label: "enterprise.code", render: (e) => VL.link(VL.consoleUrl("/enterprises/" + enc(e.id)), e.id, "mono") },
          { label: "enterprise.name", render: (e) => VL.link(VL.consoleUrl("/enterprises/" + enc(e.id)), e.name) },
          { label: "enterprise.tier", render: (e) => h("span", { class: "badge tier" }, e.tier) },
          { label: "common.status", render: (e) => e.revoked ? VL.badge("enterprise", "revoked") : VL.badge("enterprise", "eligible") },
        ] : [
          { label: "enterprise.code", render: (p) => VL.link(VL.consoleUrl("/providers/" + enc(p.id)), p.id, "mono") },
          { label: "provider.name", render: (p) => VL.link(VL.consoleUrl("/providers/" + enc(p.id)), p.name) },
          { label: "provider.signed_years", render: (p) => p.signed_years.join(", ") || "—" },
          { label: "common.status", render: (p) => VL.badge("provider", p.status) },
        ];
        await VL.pagedTable(box, columns, async (offset, limit) => {
          const result = await api("/" + kind + qs({ q, offset, limit }));
          return { rows: result[kind], total: result.total };
        }, "search.none");
      } catch (error) { VL.fail(error, box); }
    };
    form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
    return run();
  };

  /* ---------- an enterprise: its vouchers, contracts, balance, and balance as of an instant ---------- */
  VL.pages.enterprise = async function (data) {
    const me = VL.session.me();
    const id = data.id;
    const all = await api("/enterprises/" + enc(id));
    const years = [...new Set(all.vouchers.map((v) => v.year))].sort((a, b) => b - a);
    const year = Number(params().get("year")) || years[0] || VL.thisYear();
    $("#enterprise-title").textContent = all.name;
    $("#enterprise-meta").append(h("span", { class: "mono" }, all.id), " ",
      h("span", { class: "badge tier" }, all.tier), " ",
      all.revoked ? VL.badge("enterprise", "revoked") : VL.badge("enterprise", "eligible"));
    $("#enterprise-year").append(yearPicker(years.length ? years : [year], year, reloadWithYear));
    $("#enterprise-trace").href = VL.consoleUrl("/trace/enterprises/" + enc(id) + qs({ year }));
    const balance = await api("/enterprises/" + enc(id) + "/balance" + qs({ year }));
    $("#enterprise-balance").append(VL.figures([
      ["figure.quota", balance.quota, "strong"], ["figure.available", balance.available], ["figure.reserved", balance.reserved],
      ["figure.used", balance.used], ["figure.expired", balance.expired], ["figure.clawed_back", balance.clawed_back],
    ]));
    // A kind filter over the year's vouchers (通用券/专项券), in the address so a link keeps it.
    const kindFilter = h("select", { id: "voucher-kind", "aria-label": t("voucher.kind") },
      ...["", "general", "special"].map((k) => h("option", { value: k }, k ? VL.label("kind", k) : t("kind.all"))));
    kindFilter.value = params().get("kind") || "";
    kindFilter.addEventListener("change", () => { const p = params(); p.set("kind", kindFilter.value); location.search = p.toString(); });
    $("#enterprise-vouchers").append(kindFilter);
    const vouchers = all.vouchers.filter((v) => v.year === year && (!kindFilter.value || v.kind === kindFilter.value));
    $("#enterprise-vouchers").append(VL.table([
      { label: "voucher.id", render: (v) => h("span", { class: "mono", title: v.voucher_id }, short(v.voucher_id)) },
      { label: "common.year", key: "year" },
      { label: "voucher.kind", render: (v) => VL.label("kind", v.kind) },
      { label: "enterprise.tier", key: "tier" },
      { label: "figure.quota", num: true, render: (v) => VL.yuan(v.quota) },
      { label: "figure.available", num: true, render: (v) => VL.yuan(v.available) },
      { label: "figure.reserved", num: true, render: (v) => VL.yuan(v.reserved) },
      { label: "figure.used", num: true, render: (v) => VL.yuan(v.used) },
      { label: "figure.expired", num: true, render: (v) => VL.yuan(v.expired) },
      // A revoked enterprise's voucher can move no money (HOLDER_REVOKED): never shown as active.
      { label: "common.status", render: (v) => VL.badge("voucher", all.revoked && v.status === "active" ? "revoked" : v.status) },
    ], vouchers, "voucher.none"));
    const contracts = all.contracts.filter((c) => c.year === year);
    await VL.localTable($("#enterprise-contracts"), contractColumns(me, { hideEnterprise: true }), contracts, "contract.none");
    asOf("/enterprises/" + enc(id) + "/balance", year, (b) => [
      ["figure.quota", b.quota], ["figure.available", b.available], ["figure.reserved", b.reserved],
      ["figure.used", b.used], ["figure.expired", b.expired], ["figure.clawed_back", b.clawed_back]]);
  };

  /** Figures as they stood at a chosen instant (China Standard Time, sent as ISO 8601 with +08:00). */
  function asOf(path, year, figures) {
    const input = $("#asof-input"), result = $("#asof-result");
    input.value = VL.nowLocal();
    $("#asof-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const iso = VL.localToIso(input.value);
      VL.clear(result);
      if (!iso) { result.append(h("div", { class: "alert" }, t("asof.invalid"))); return; }
      try {
        const body = await api(path + qs({ year, as_of: iso }));
        result.append(h("p", { class: "sub", id: "asof-caption" }, t("asof.as_of") + " " + iso), VL.figures(figures(body)));
      } catch (error) {
        if (error instanceof VL.ApiError && error.status === 403) { VL.forbidden(); return; }
        if (error instanceof VL.ApiError && error.status === 404) {
          result.append(h("p", { class: "empty", id: "asof-caption" }, t("asof.as_of") + " " + iso + ": " + t("asof.nothing")));
          return;
        }
        VL.fail(error, result);
      }
    });
  }

  /* ---------- a provider: its year's totals against the cap, and its contracts ---------- */
  VL.pages.provider = async function (data) {
    const me = VL.session.me();
    const id = data.id;
    const provider = await api("/providers/" + enc(id));
    const signed = [...provider.signed_years].sort((a, b) => b - a);
    const year = Number(params().get("year")) || signed[0] || VL.thisYear();
    $("#provider-title").textContent = provider.name;
    $("#provider-meta").append(h("span", { class: "mono" }, provider.id), " ", VL.badge("provider", provider.status));
    $("#provider-year").append(yearPicker(signed.length ? signed : [year], year, reloadWithYear));
    $("#provider-trace").href = VL.consoleUrl("/trace/providers/" + enc(id) + qs({ year }));
    const totalsBox = $("#provider-totals");
    try {
      const totals = await api("/providers/" + enc(id) + "/totals" + qs({ year }));
      VL.charts.gauge($("#provider-gauge"), totals);
      totalsBox.append(VL.figures([
        ["figure.cap", totals.cap, "strong"], ["figure.exceptions", totals.exceptions],
        ["figure.reserved", totals.reserved], ["figure.used", totals.used], ["figure.settled", totals.settled],
        ["figure.receivable", totals.receivable], ["figure.remaining_cap", totals.remaining_cap, "strong"],
      ]), h("p", { class: "sub" }, t("provider.live_contracts") + ": " + totals.contracts));
    } catch (error) {
      if (error instanceof VL.ApiError && error.status === 404) {
        totalsBox.append(h("p", { class: "empty" }, t("provider.not_signed")));
      } else throw error;
    }
    asOf("/providers/" + enc(id) + "/totals", year, (x) => [
      ["figure.cap", x.cap], ["figure.exceptions", x.exceptions], ["figure.reserved", x.reserved],
      ["figure.used", x.used], ["figure.settled", x.settled], ["figure.remaining_cap", x.remaining_cap]]);
    await VL.pagedTable($("#provider-contracts"), contractColumns(me, { hideProvider: true }), async (offset, limit) => {
      const result = await api("/providers/" + enc(id) + "/contracts" + qs({ year, offset, limit }));
      return { rows: result.contracts, total: result.total };
    }, "contract.none");
  };

  /** The batch a contract was claimed or paid in: its name, status and payment reference when readable. */
  function batchFact(batchId, b) {
    if (!b && !VL.isReader(VL.session.me())) return h("span", { class: "mono", id: "contract-batch" }, batchId);
    const link = VL.link(VL.consoleUrl("/settlements/" + enc(batchId)), b ? b.name : batchId, b ? null : "mono");
    link.id = "contract-batch";
    if (!b) return link;
    return h("span", {}, link, " ", VL.badge("batch", b.status),
      b.reference ? h("span", { class: "muted" }, " · " + t("batch.reference") + " " + b.reference) : null,
      b.paid_at ? h("span", { class: "muted" }, " · " + VL.instant(b.paid_at)) : null);
  }

  /* ---------- a contract: every figure, its parties, its batch, its trace ---------- */
  VL.pages.contract = async function (data) {
    const c = await api("/contracts/" + enc(data.id));
    const reader = VL.isReader(VL.session.me());
    // Names are a courtesy: a party may not read the other party's record, so a refusal just shows the code.
    const [enterprise, provider, product, batch] = await Promise.allSettled([
      api("/enterprises/" + enc(c.enterprise_id)), api("/providers/" + enc(c.provider_id)),
      api("/products/" + enc(c.product_id)), c.batch_id ? api("/settlements/" + enc(c.batch_id)) : Promise.reject(null)]);
    const name = (settled, fallback) => (settled.status === "fulfilled" ? settled.value.name : fallback);
    $("#contract-title").textContent = t("page.contract") + " " + short(c.contract_id);
    $("#contract-meta").append(h("span", { class: "mono" }, c.contract_id), " ", VL.badge("contract", c.status));
    if (c.settled) $("#contract-meta").append(" ", VL.badge("contract", "settled"));
    if (c.hold) $("#contract-meta").append(" ", VL.badge("contract", "held"), " ", h("span", { class: "muted" }, c.hold.reason || ""));
    $("#contract-figures").append(VL.figures([
      ["contract.amount", c.amount, "strong"], ["contract.subsidy", c.subsidy, "strong"], ["contract.deposit", c.deposit],
      ["contract.balance_due", c.balance_due], ["contract.deposit_paid", c.deposit_paid], ["contract.balance_paid", c.balance_paid],
      ["figure.clawed_back", c.clawed_back], ["figure.receivable", c.receivable],
    ]));
    const enterpriseName = name(enterprise, c.enterprise_id), providerName = name(provider, c.provider_id);
    $("#contract-parties").append(VL.facts([
      ["contract.enterprise", reader || VL.session.me().subject === c.enterprise_id
        ? VL.link(VL.consoleUrl("/enterprises/" + enc(c.enterprise_id) + qs({ year: c.year })), enterpriseName) : enterpriseName],
      ["contract.provider", reader || VL.session.me().subject === c.provider_id
        ? VL.link(VL.consoleUrl("/providers/" + enc(c.provider_id) + qs({ year: c.year })), providerName) : providerName],
      ["contract.product", name(product, c.product_id) + " · " + VL.label("category", c.category)],
      ["common.year", String(c.year)],
      ["voucher.id", h("span", { class: "mono" }, c.voucher_id)],
      ["contract.batch", c.batch_id ? batchFact(c.batch_id, batch.status === "fulfilled" ? batch.value : null) : null],
    ]));
    $("#contract-trace").href = VL.consoleUrl("/trace/contracts/" + enc(c.contract_id));
  };
})(window.VL);
