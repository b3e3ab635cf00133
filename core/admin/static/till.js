/* The till (core/admin/till.py): plain JavaScript, no library, no CDN.
 * It keeps the ticket in the page, asks the JSON API for every change (the live preview),
 * and shows each refusal on the field it names (the API's error paths: lines.0.qty,
 * payments.1.amount, codes, customer_ref...). A scanner is a keyboard: it types the
 * barcode and Enter in the scan field.
 * Keys: F2 scan, F4 customer, F6 code, F8 payment, F9 or Ctrl+Enter confirm, Esc closes the
 * match list. */
(function () {
  'use strict';
  var root = document.getElementById('till');
  if (!root) { return; }
  var cfg = JSON.parse(document.getElementById('till-config').textContent);
  var T = JSON.parse(document.getElementById('till-texts').textContent);
  var csrf = root.getAttribute('data-csrf');
  var $ = function (id) { return document.getElementById(id); };
  var STORE_KEY = 'banyan.till.store';

  var state = {
    lines: [],            // {product_id, name, sku, unit, sold_by_weight, qty (string), price}
    customer: null,       // {ref, id, name, tier}
    codes: [],
    payments: [{method: 'cash', amount: ''}],
    preview: null,
    key: newKey(),        // Idempotency-Key of this ticket
    seq: 0
  };

  function newKey() {
    var a = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  function fmt(text, args) {
    return String(text).replace(/%\((\w+)\)s/g, function (_m, k) { return args[k] === undefined ? '' : args[k]; });
  }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') { e.textContent = attrs[k]; }
      else if (k === 'class') { e.className = attrs[k]; }
      else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { e.appendChild(c); } });
    return e;
  }

  // ---------------------------------------------------------------- API
  // Rebuild part of the page without losing the cashier's place: the field being typed in keeps its
  // focus, its text and its caret, even when a preview lands between two keystrokes.
  function keepingPlace(container, rebuild) {
    var a = document.activeElement;
    var key = a && container.contains(a) ? (a.id || null) : null;
    var typed = key && a.tagName === 'INPUT' ? {value: a.value, start: a.selectionStart, end: a.selectionEnd} : null;
    rebuild();
    var again = key ? $(key) : null;
    if (!again) { return; }
    if (typed) { again.value = typed.value; }
    again.focus();
    if (typed && typed.start !== null) {
      try { again.setSelectionRange(typed.start, typed.end); } catch (e) { /* inputs without a caret */ }
    }
  }
  function api(method, path, body, extraHeaders) {
    var headers = {'Accept': 'application/json', 'X-CSRFToken': csrf};
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; }
    Object.keys(extraHeaders || {}).forEach(function (k) { headers[k] = extraHeaders[k]; });
    return fetch(cfg.api + path, {method: method, headers: headers, credentials: 'same-origin',
                                  body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          return {status: r.status, ok: r.ok, data: data, retryAfter: r.headers.get('Retry-After')};
        });
      }, function () { return {status: 0, ok: false, data: null}; });
  }
  function errorsOf(res) {
    var out = {};
    var errs = res.data && res.data.errors;
    if (errs) {
      Object.keys(errs).forEach(function (loc) {
        Object.keys(errs[loc] || {}).forEach(function (path) {
          out[path] = (errs[loc][path] || []).map(function (m) { return typeof m === 'string' ? m : m.message; });
        });
      });
    }
    if (!Object.keys(out).length) {
      out._ = [res.status === 0 ? T.network : ((res.data && res.data.message) || T.confirmFail)];
    }
    return out;
  }

  // ---------------------------------------------------------------- errors on fields
  function clearErrors(prefix) {
    root.querySelectorAll('[data-field]').forEach(function (n) {
      var f = n.getAttribute('data-field');
      if (!prefix || f.indexOf(prefix) === 0) {
        if (n.id === 'till-alert') { n.classList.add('d-none'); }
        n.textContent = '';
      }
    });
    root.querySelectorAll('.is-invalid').forEach(function (n) {
      if (!prefix || (n.getAttribute('data-path') || '').indexOf(prefix) === 0) { n.classList.remove('is-invalid'); }
    });
  }
  function showErrors(errors, prefix) {
    prefix = prefix || '';
    Object.keys(errors).forEach(function (path) {
      var full = prefix + path;
      var msgs = errors[path].join(' ');
      var target = root.querySelector('[data-field="' + full + '"]');
      if (!target) {  // lines.0.product_id -> lines.0, else the section, else the alert
        var parts = full.split('.');
        while (parts.length > 1 && !target) {
          parts.pop();
          target = root.querySelector('[data-field="' + parts.join('.') + '"]');
        }
      }
      var input = root.querySelector('[data-path="' + full + '"]');
      if (input) { input.classList.add('is-invalid'); }
      if (!target) { target = $('till-alert'); }
      target.textContent = (target.textContent ? target.textContent + ' ' : '') + msgs;
      if (target.id === 'till-alert') { target.classList.remove('d-none'); }
    });
  }

  // ---------------------------------------------------------------- store
  function storeId() {
    var v = $('till-store').value;
    return v ? parseInt(v, 10) : null;
  }
  (function initStore() {
    var sel = $('till-store');
    if (sel.tagName === 'SELECT') {
      var kept = window.sessionStorage.getItem(STORE_KEY);
      if (!sel.value && kept && sel.querySelector('option[value="' + kept + '"]')) { sel.value = kept; }
      sel.addEventListener('change', function () {
        window.sessionStorage.setItem(STORE_KEY, sel.value);
        loadFavourites();
        refresh();
      });
    }
  })();

  // ---------------------------------------------------------------- products
  var results = [], active = -1, searchTimer = null;
  function addProduct(p) {
    clearErrors('q');
    if (p.price === null || p.price === undefined) {
      showErrors({q: [p.name + T.colon + T.noPrice]});
      return;
    }
    var same = state.lines.filter(function (l) { return l.product_id === p.id && !l.sold_by_weight; })[0];
    if (same) { same.qty = String(parseInt(same.qty, 10) + 1); }
    else {
      state.lines.push({product_id: p.id, name: p.name, sku: p.sku, unit: p.unit, sold_by_weight: p.sold_by_weight,
                        qty: p.sold_by_weight ? '' : '1', price: p.price});
    }
    hideResults();
    $('till-scan').value = '';
    renderLines();
    if (p.sold_by_weight && !same) {
      var inputs = $('till-lines').querySelectorAll('input.bn-qty');
      inputs[inputs.length - 1].focus();
    }
    refresh();
  }
  function hideResults() { $('till-results').classList.add('d-none'); results = []; active = -1; }
  function showResults(list) {
    var ul = $('till-results');
    ul.innerHTML = '';
    results = list;
    active = list.length ? 0 : -1;
    if (!list.length) {
      ul.appendChild(el('li', {'class': 'list-group-item text-muted', text: T.nothing}));
    }
    list.forEach(function (p, i) {
      var li = el('li', {'class': 'list-group-item list-group-item-action' + (i === 0 ? ' active' : ''), role: 'option',
                         id: 'till-result-' + i, 'data-id': p.id},
                  [el('span', {text: p.name + ' '}), el('small', {text: p.sku}),
                   el('span', {'class': 'float-right', text: p.price === null ? T.noPrice : p.price})]);
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); addProduct(p); });
      ul.appendChild(li);
    });
    ul.classList.remove('d-none');
  }
  function moveActive(d) {
    if (!results.length) { return; }
    var items = $('till-results').querySelectorAll('li');
    items[active].classList.remove('active');
    active = (active + d + results.length) % results.length;
    items[active].classList.add('active');
    items[active].scrollIntoView({block: 'nearest'});
  }
  function search(q, enter) {
    clearErrors('q');
    clearErrors('store_id');
    if (!storeId()) { showErrors({store_id: [$('till-store').options ? $('till-store').options[0].text : '']}); return; }
    api('GET', '/till/products?store_id=' + storeId() + '&q=' + encodeURIComponent(q)).then(function (res) {
      if (!res.ok) { showErrors(errorsOf(res)); return; }
      if (q !== $('till-scan').value.trim()) { return; }  // typed on since
      if (res.data.exact && enter) { addProduct(res.data.products[0]); return; }
      if (enter && res.data.products.length === 1) { addProduct(res.data.products[0]); return; }
      showResults(res.data.products);
    });
  }
  $('till-scan').addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowDown') { ev.preventDefault(); moveActive(1); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); moveActive(-1); }
    else if (ev.key === 'Escape') { hideResults(); }
    else if (ev.key === 'Enter') {
      ev.preventDefault();
      var q = this.value.trim();
      window.clearTimeout(searchTimer);
      if (!q) { return; }
      if (results.length && active >= 0 && !$('till-results').classList.contains('d-none')) { addProduct(results[active]); }
      else { search(q, true); }
    }
  });
  $('till-scan').addEventListener('input', function () {
    var q = this.value.trim();
    window.clearTimeout(searchTimer);
    if (q.length < 2 || /^\d+$/.test(q)) { hideResults(); return; }  // a barcode arrives with Enter
    searchTimer = window.setTimeout(function () { search(q, false); }, 250);
  });
  $('till-scan').addEventListener('blur', function () { window.setTimeout(hideResults, 150); });

  function loadFavourites() {
    var box = $('till-favs');
    box.innerHTML = '';
    $('till-favs-none').hidden = true;
    if (!storeId()) { return; }
    api('GET', '/till/favourites?store_id=' + storeId()).then(function (res) {
      if (!res.ok) { return; }
      $('till-favs-none').hidden = res.data.length > 0;
      res.data.forEach(function (p) {
        var b = el('button', {type: 'button', 'class': 'btn btn-outline-dark btn-sm', 'data-id': p.id},
                   [el('span', {text: p.name}), el('br'), el('small', {text: p.price === null ? T.noPrice : p.price})]);
        b.addEventListener('click', function () { addProduct(p); $('till-scan').focus(); });
        box.appendChild(b);
      });
    });
  }
  if ($('till-fav-edit')) {
    $('till-fav-edit').addEventListener('click', function () {
      var ids = state.lines.map(function (l) { return l.product_id; });
      api('PUT', '/till/favourites', {store_id: storeId(), product_ids: ids}).then(function (res) {
        if (!res.ok) { showErrors(errorsOf(res)); return; }
        loadFavourites();
      });
    });
  }

  // ---------------------------------------------------------------- lines
  function renderLines() {
    var tbody = $('till-lines').querySelector('tbody');
    keepingPlace(tbody, function () { buildLines(tbody); });
    $('till-empty').classList.toggle('d-none', state.lines.length > 0);
  }
  function buildLines(tbody) {
    tbody.innerHTML = '';
    var pv = state.preview && state.preview.lines && state.preview.lines.length === state.lines.length
      ? state.preview.lines : null;
    state.lines.forEach(function (l, i) {
      var qty = el('input', {'class': 'form-control form-control-sm bn-qty', value: l.qty, 'data-path': 'lines.' + i + '.qty',
                             inputmode: 'decimal', 'aria-label': (l.sold_by_weight ? T.weight : T.qty) + ' ' + l.name,
                             id: 'till-qty-' + i});
      qty.addEventListener('input', function () { l.qty = qty.value.trim(); });
      qty.addEventListener('change', function () { l.qty = qty.value.trim(); refresh(); });
      qty.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter') { ev.preventDefault(); l.qty = qty.value.trim(); refresh(); $('till-scan').focus(); }
      });
      var rm = el('button', {type: 'button', 'class': 'btn btn-sm btn-outline-danger', 'aria-label': T.remove + ' ' + l.name,
                             id: 'till-remove-' + i, text: '×'});
      rm.addEventListener('click', function () { state.lines.splice(i, 1); renderLines(); refresh(); $('till-scan').focus(); });
      var p = pv ? pv[i] : null;
      var name = el('td', {}, [el('span', {text: l.name}), el('br'),
                               el('small', {'class': 'text-muted', text: l.sku + (l.sold_by_weight ? ' · ' + T.weight : '')})]);
      if (p) {
        p.discounts.forEach(function (d) {
          name.appendChild(el('div', {'class': 'bn-disc'},
            [el('span', {'class': 'badge badge-light bn-kind', text: d.kind_label}), el('span', {text: ' ' + d.label + ' ' + d.amount})]));
        });
      }
      var tr = el('tr', {'data-line': i}, [
        name,
        el('td', {'class': 'text-right'}, [qty, el('div', {'class': 'invalid-feedback d-block', 'data-field': 'lines.' + i + '.qty'}),
                                          el('div', {'class': 'invalid-feedback d-block', 'data-field': 'lines.' + i})]),
        el('td', {'class': 'text-right', text: p ? p.unit_price : (l.price || '')}),
        el('td', {'class': 'text-right bn-line-total', text: p ? p.total : ''}),
        el('td', {}, [rm])
      ]);
      tbody.appendChild(tr);
    });
  }

  // ---------------------------------------------------------------- preview
  function ticketBody(withPayments) {
    var body = {store_id: storeId(), codes: state.codes.slice(),
                lines: state.lines.filter(function (l) { return l.qty !== ''; })
                  .map(function (l) { return {product_id: l.product_id, qty: l.qty}; })};
    if (state.customer) {
      if (state.customer.ref) { body.customer_ref = state.customer.ref; } else { body.customer_id = state.customer.id; }
    }
    if (withPayments) {
      body.payments = state.payments.map(function (p) {
        var out = {method: p.method};
        if (p.amount !== '') { out.amount = p.amount; }
        return out;
      });
    }
    return body;
  }
  // balances do not change with the lines: asked for when the customer changes (or is topped up)
  var balances = [], needBalances = true;
  // Enter in a field both asks (keydown) and commits it (change, or blur as the focus moves on):
  // the same ticket asked again while its answer is current or on its way is not sent twice.
  var lastAsked = {seq: -1, ticket: null};
  function refresh() {
    if (!storeId()) { return; }
    var body = ticketBody(true);
    var asked = needBalances && !!state.customer;
    body.balances = asked;
    var ticket = JSON.stringify(body);
    if (ticket === lastAsked.ticket && lastAsked.seq === state.seq) { return; }
    var seq = ++state.seq;
    lastAsked = {seq: seq, ticket: ticket};
    api('POST', '/till/preview', body).then(function (res) {
      if (res.status === 0 && lastAsked.seq === seq) { lastAsked.ticket = null; }  // the network failed: ask again
      if (seq !== state.seq) { return; }  // a newer change is on its way
      clearErrors();
      if (!res.ok) { showErrors(errorsOf(res)); return; }
      if (asked && res.data.lines.length) { balances = res.data.balances; needBalances = false; }
      res.data.balances = state.customer ? balances : [];
      state.preview = res.data;
      renderPreview();
    });
  }
  function renderPreview() {
    var p = state.preview;
    renderLines();
    $('till-subtotal').textContent = p.subtotal;
    $('till-total').textContent = p.total + ' ' + p.currency;
    var disc = $('till-discounts');
    disc.innerHTML = '';
    var all = [];
    p.lines.forEach(function (l) { l.discounts.forEach(function (d) { all.push(d); }); });
    p.discounts.forEach(function (d) { all.push(d); });
    all.forEach(function (d) {
      if (d.in_price) { return; }
      disc.appendChild(el('tr', {'class': 'bn-discount', 'data-kind': d.kind},
        [el('td', {}, [el('span', {'class': 'badge badge-light', text: d.kind_label}), el('span', {text: ' ' + d.label})]),
         el('td', {'class': 'text-right', text: d.amount})]));
    });
    var earn = $('till-earn');
    earn.innerHTML = '';
    p.earn.forEach(function (panel) {
      panel.fields.forEach(function (f) { earn.appendChild(el('div', {text: f[0] + T.colon + f[1]})); });
    });
    var codes = $('till-codes');
    codes.innerHTML = '';
    p.codes.forEach(function (c) {
      var rm = el('button', {type: 'button', 'class': 'btn btn-link btn-sm p-0 ml-1', 'aria-label': T.remove + ' ' + c.code, text: '×'});
      rm.addEventListener('click', function () {
        state.codes = state.codes.filter(function (x) { return x.toUpperCase() !== c.code.toUpperCase(); });
        refresh();
      });
      codes.appendChild(el('li', {'class': 'bn-code-' + c.state, 'data-code': c.code, 'data-state': c.state},
        [el('strong', {text: c.code}), el('span', {text: ' · ' + (c.state === 'applied' ? T.applied : T[c.state] + T.colon + c.message)}), rm]));
    });
    $('till-due').textContent = p.due;
    $('till-change').textContent = p.change;
    renderCustomer();
    renderPayments();
    showErrors(p.errors || {});
  }

  // ---------------------------------------------------------------- customer
  function setCustomer(c) {
    state.customer = c;
    balances = []; needBalances = true;
    renderCustomer();
    refresh();
  }
  function renderCustomer() {
    var c = state.customer, card = $('till-customer-card');
    card.classList.toggle('d-none', !c);
    if ($('till-topup')) { $('till-topup').classList.toggle('d-none', !(c && c.member)); }
    if (!c) { return; }
    var pc = state.preview && state.preview.customer;
    $('till-customer-name').textContent = (pc && pc.name) || c.name || '';
    $('till-customer-tier').textContent = c.tier || '';
    var bal = $('till-balances');
    bal.innerHTML = '';
    ((state.preview && state.preview.balances) || []).forEach(function (panel) {
      var dl = el('dl', {'class': 'row mb-0'});
      panel.fields.forEach(function (f) {
        dl.appendChild(el('dt', {'class': 'col-6 font-weight-normal', text: f[0]}));
        dl.appendChild(el('dd', {'class': 'col-6 mb-0', text: f[1]}));
      });
      bal.appendChild(el('div', {'class': 'bn-balance', 'data-addon': panel.addon}, [el('strong', {text: panel.title}), dl]));
    });
  }
  function looksLikePhone(v) { return /^\+?[\d\s-]{11,16}$/.test(v) && v.replace(/\D/g, '').length >= 11; }
  function findCustomer() {
    var v = $('till-customer').value.trim();
    clearErrors('customer');
    if (!v) { return; }
    var tries = [];
    if (cfg.member) {
      if (looksLikePhone(v)) { tries.push(['/membership/lookup?phone=' + encodeURIComponent(v), true]); }
      else { tries.push(['/membership/lookup?card_number=' + encodeURIComponent(v), true]); }
    }
    if (looksLikePhone(v)) { tries.push(['/till/lookup?phone=' + encodeURIComponent(v), false]); }
    (function next(i) {
      if (i >= tries.length) { showErrors({customer: [T.notFound]}); return; }
      api('GET', tries[i][0]).then(function (res) {
        if (res.status === 404) { next(i + 1); return; }
        if (res.status === 429) { showErrors({customer: [fmt(T.tryAgain, {seconds: res.retryAfter || 60})]}); return; }
        if (!res.ok) {
          var errs = errorsOf(res), mapped = {};
          Object.keys(errs).forEach(function (k) { mapped.customer = (mapped.customer || []).concat(errs[k]); });
          showErrors(mapped);
          return;
        }
        var d = res.data;
        $('till-customer').value = '';
        setCustomer({ref: d.customer_ref, id: d.customer_id, name: d.name, member: tries[i][1],
                     tier: d.tier ? d.tier.name : ''});
        $('till-scan').focus();
      });
    })(0);
  }
  $('till-customer-find').addEventListener('click', findCustomer);
  $('till-customer').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter') { ev.preventDefault(); findCustomer(); }
  });
  $('till-customer-clear').addEventListener('click', function () { setCustomer(null); $('till-customer').focus(); });

  if ($('till-enrol-go')) {
    $('till-enrol-go').addEventListener('click', function () {
      clearErrors('enrol');
      var name = $('till-enrol-name').value.trim(), phone = $('till-enrol-phone').value.trim();
      var card = $('till-enrol-card').value.trim();
      var body = {name: name, phone: phone || null};
      if (storeId()) { body.home_store_id = storeId(); }
      api('POST', '/customers', body).then(function (res) {
        if (!res.ok) { showErrors(errorsOf(res), 'enrol.'); return; }
        var customer = res.data;
        var m = {customer_id: customer.id, store_id: storeId()};
        if (card) { m.card_number = card; }
        api('POST', '/membership/members', m).then(function (r2) {
          if (!r2.ok) { showErrors(errorsOf(r2), 'enrol.'); return; }
          ['till-enrol-name', 'till-enrol-phone', 'till-enrol-card'].forEach(function (id) { $(id).value = ''; });
          $('till-enrol').open = false;
          done(fmt(T.enrolled, {name: customer.name}));
          setCustomer({id: customer.id, name: customer.name, member: true, tier: r2.data.tier ? r2.data.tier.name : ''});
        });
      });
    });
  }

  // ---------------------------------------------------------------- codes
  function addCode() {
    var v = $('till-code').value.trim();
    if (!v) { return; }
    if (state.codes.map(function (c) { return c.toUpperCase(); }).indexOf(v.toUpperCase()) < 0) { state.codes.push(v); }
    $('till-code').value = '';
    refresh();
  }
  $('till-code-add').addEventListener('click', addCode);
  $('till-code').addEventListener('keydown', function (ev) { if (ev.key === 'Enter') { ev.preventDefault(); addCode(); } });

  // ---------------------------------------------------------------- payments
  function methods() {
    return (state.preview && state.preview.payment_methods) || [{code: 'cash', label: 'cash'}];
  }
  function renderPayments() {
    var box = $('till-payments');
    keepingPlace(box, function () { buildPayments(box); });
  }
  function buildPayments(box) {
    box.innerHTML = '';
    state.payments.forEach(function (pay, i) {
      var sel = el('select', {'class': 'form-control form-control-sm', 'data-path': 'payments.' + i + '.method',
                              id: 'till-pay-method-' + i, 'aria-label': T.method});
      methods().forEach(function (m) {
        var o = el('option', {value: m.code, text: m.label});
        if (m.code === pay.method) { o.selected = true; }
        sel.appendChild(o);
      });
      sel.addEventListener('change', function () { pay.method = sel.value; refresh(); });
      var amt = el('input', {'class': 'form-control form-control-sm', value: pay.amount, placeholder: T.rest,
                             inputmode: 'decimal', 'data-path': 'payments.' + i + '.amount', id: 'till-pay-amount-' + i,
                             'aria-label': T.rest});
      amt.addEventListener('input', function () { pay.amount = amt.value.trim(); });
      amt.addEventListener('change', function () { pay.amount = amt.value.trim(); refresh(); });
      amt.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter') { ev.preventDefault(); pay.amount = amt.value.trim(); refresh(); }
      });
      var row = el('div', {'class': 'bn-till-pay', 'data-payment': i}, [sel, amt]);
      if (state.payments.length > 1) {
        var rm = el('button', {type: 'button', 'class': 'btn btn-sm btn-outline-danger', text: '×', 'aria-label': T.remove});
        rm.addEventListener('click', function () { state.payments.splice(i, 1); refresh(); });
        row.appendChild(rm);
      }
      row.appendChild(el('div', {'class': 'invalid-feedback d-block', 'data-field': 'payments.' + i + '.method'}));
      row.appendChild(el('div', {'class': 'invalid-feedback d-block', 'data-field': 'payments.' + i + '.amount'}));
      row.appendChild(el('div', {'class': 'invalid-feedback d-block', 'data-field': 'payments.' + i + '.reference'}));
      row.appendChild(el('div', {'class': 'invalid-feedback d-block', 'data-field': 'payments.' + i}));
      box.appendChild(row);
    });
  }
  $('till-pay-add').addEventListener('click', function () {
    var used = state.payments.map(function (p) { return p.method; });
    var free = methods().filter(function (m) { return used.indexOf(m.code) < 0; })[0] || methods()[0];
    state.payments.push({method: free.code, amount: ''});
    renderPayments();
    var amounts = $('till-payments').querySelectorAll('select');
    amounts[amounts.length - 1].focus();
  });

  // ---------------------------------------------------------------- confirm
  function done(msg) {
    var d = $('till-done');
    d.textContent = msg;
    d.classList.remove('d-none');
  }
  function confirmSale() {
    // a preview still on its way was asked for before this sale: its answer must not clear
    // the sale's own errors when it lands after them
    state.seq++;
    clearErrors();
    $('till-done').classList.add('d-none');
    if (!state.lines.length) { showErrors({lines: [T.empty]}); $('till-scan').focus(); return; }
    // cash tendered over the total: the sale records what it pays, the receipt the change
    var body = ticketBody(true);
    var tendered = '';
    var p = state.preview;
    if (p && p.change && parseFloat(p.change) > 0) {
      body.payments = body.payments.map(function (pay) {
        if (pay.method === 'cash' && pay.amount !== undefined) { tendered = pay.amount; delete pay.amount; }
        return pay;
      });
    }
    $('till-confirm').disabled = true;
    api('POST', '/sales', body, {'Idempotency-Key': state.key}).then(function (res) {
      $('till-confirm').disabled = false;
      if (!res.ok) { showErrors(errorsOf(res)); return; }
      var sale = res.data;
      done(fmt(T.sold, {number: sale.number}));
      var base = cfg.receipt + '/' + sale.id + '?';
      var extra = tendered ? '&tendered=' + encodeURIComponent(tendered) : '';
      $('till-print-80').href = base + 'layout=80mm&print=1' + extra;
      $('till-print-a4').href = base + 'layout=a4&print=1' + extra;
      $('till-receipt-number').textContent = sale.number;
      $('till-receipt-card').setAttribute('data-sale', sale.id);
      $('till-receipt-card').classList.remove('d-none');
      // a new ticket; the store stays
      state.lines = []; state.codes = []; state.customer = null; state.payments = [{method: 'cash', amount: ''}];
      state.preview = null; state.key = newKey();
      renderLines(); renderCustomer(); renderPayments();
      ['till-subtotal', 'till-due', 'till-change'].forEach(function (id) { $(id).textContent = '0.00'; });
      $('till-total').textContent = '0.00';
      $('till-discounts').innerHTML = ''; $('till-codes').innerHTML = ''; $('till-earn').innerHTML = '';
      $('till-scan').focus();
    });
  }
  $('till-confirm').addEventListener('click', confirmSale);
  $('till-email-send').addEventListener('click', function () {
    clearErrors('email');
    var id = $('till-receipt-card').getAttribute('data-sale');
    var email = $('till-email').value.trim();
    api('POST', '/till/sales/' + id + '/email', email ? {email: email} : {}).then(function (res) {
      if (!res.ok) { showErrors(errorsOf(res)); return; }
      done(fmt(T.emailSent, {to: res.data.to}));
    });
  });

  // ---------------------------------------------------------------- top-up
  if ($('till-topup-go')) {
    $('till-topup-go').addEventListener('click', function () {
      clearErrors('topup');
      var c = state.customer;
      var body = {amount: $('till-topup-amount').value.trim(), store_id: storeId(), tender: $('till-topup-tender').value};
      if (c.ref) { body.customer_ref = c.ref; }
      api('POST', '/membership/members/' + c.id + '/topup', body, {'Idempotency-Key': newKey()}).then(function (res) {
        if (!res.ok) { showErrors(errorsOf(res), 'topup.'); return; }
        var tender = $('till-topup-tender');
        var rows = [[T.found, (state.preview && state.preview.customer && state.preview.customer.name) || c.name || ''],
                    [$('till-topup-amount').previousElementSibling.textContent, body.amount],
                    [tender.previousElementSibling.textContent, tender.options[tender.selectedIndex].text],
                    ['= ', res.data.total]];
        var tb = $('till-topup-receipt-body');
        tb.innerHTML = '';
        rows.forEach(function (r) { tb.appendChild(el('tr', {}, [el('td', {text: r[0]}), el('td', {text: r[1]})])); });
        var st = $('till-store');
        $('till-topup-receipt-store').textContent = (st.tagName === 'SELECT' ? st.options[st.selectedIndex].text
          : $('till-store-name').textContent) + ' · ' + new Date().toLocaleString();
        done(fmt(T.topupDone, {amount: body.amount, balance: res.data.total}));
        $('till-topup-amount').value = '';
        needBalances = true;
        refresh();
        window.print();
      });
    });
  }

  // ---------------------------------------------------------------- keys
  document.addEventListener('keydown', function (ev) {
    var map = {F2: 'till-scan', F4: 'till-customer', F6: 'till-code', F8: 'till-pay-amount-0'};
    if (map[ev.key]) { ev.preventDefault(); var t = $(map[ev.key]); if (t) { t.focus(); if (t.select) { t.select(); } } }
    else if (ev.key === 'F9' || (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey))) { ev.preventDefault(); confirmSale(); }
  });

  renderLines();
  renderPayments();
  loadFavourites();
  refresh();
  $('till-scan').focus();
})();
