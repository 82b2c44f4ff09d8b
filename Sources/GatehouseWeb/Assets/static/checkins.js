'use strict';
// The check-in log's live view: asks for the rows after the newest shown, every two seconds,
// and draws them and the numbers from the data (text only: nothing received becomes markup).
(() => {
  const table = document.getElementById('log');
  const state = document.getElementById('live-state');
  if (!table) return;
  let after = Number(table.dataset.after || 0);
  const body = table.tBodies[0];

  function element(name, attributes, ...children) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    for (const child of children) node.append(child);
    return node;
  }

  // The `time` partial: the organizer's time, UTC beside it.
  function time(value) {
    const parts = [value.local];
    if (value.utcTime) parts.push(' ', element('span', {class: 'muted'}, '(' + value.utcTime + ' UTC)'));
    return parts;
  }

  function badge(value) {
    return element('span', {class: 'badge ' + value.tone}, value.words);
  }

  function cell(label, attributes, ...children) {
    return element('td', Object.assign({'data-label': label}, attributes), ...children);
  }

  function row(entry) {
    const result = [badge(entry.result)];
    if (entry.notes) result.push(' ', element('span', {class: 'muted'}, '(' + entry.notes + ')'));
    let ticket = '—';
    if (entry.foreign) ticket = element('span', {class: 'muted'}, 'another event\'s');
    else if (entry.ticketId) ticket = element('a', {href: '/admin/tickets/' + encodeURIComponent(entry.ticketId)}, '#' + entry.ticketNumber);
    return element('tr', {'data-id': String(entry.id)},
      cell('Time', {}, ...time(entry.at)),
      cell('Gate', {}, entry.gateId),
      cell('Way', {}, entry.direction),
      cell('Result', {}, ...result),
      cell('Ticket', {class: 'n'}, ticket));
  }

  // The `counts` partial: per gate, then admissions per minute.
  function counts(value) {
    const parts = [];
    if (value.gateTable.hasGates) {
      const rows = value.gateTable.gates.map((gate) => element('tr', {},
        cell('Gate', {}, gate.gateId), cell('Admitted', {class: 'n'}, String(gate.admitted)),
        cell('Refused', {class: 'n'}, String(gate.refused))));
      parts.push(element('table', {class: 'cards'},
        element('thead', {}, element('tr', {}, element('th', {}, 'Gate'), element('th', {class: 'n'}, 'Admitted'),
          element('th', {class: 'n'}, 'Refused'))),
        element('tbody', {}, ...rows)));
    } else {
      parts.push(element('p', {class: 'muted'}, 'No check-ins yet.'));
    }
    const stat = (number, words) => element('span', {}, element('b', {}, String(number)), words);
    parts.push(element('h2', {}, 'Admissions per minute, last hour'),
      element('p', {class: 'stats'}, stat(value.thisMinute, 'this minute'), stat(value.lastHour, 'last hour'),
        stat(value.busiest, 'busiest minute')),
      element('div', {class: 'bars', 'aria-hidden': 'true'},
        ...value.bars.map((bar) => element('span', {class: 'h' + bar.level, title: bar.count + ' per minute'}))));
    return element('div', {id: 'counts'}, ...parts);
  }

  async function poll() {
    const query = new URLSearchParams(location.search);
    query.set('after', String(after));
    try {
      const response = await fetch(location.pathname + '/live?' + query, {cache: 'no-store', credentials: 'same-origin'});
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const update = await response.json();
      for (const entry of update.rows) {
        body.prepend(row(entry));
        after = Math.max(after, entry.id);
      }
      while (body.rows.length > 300) body.deleteRow(-1);
      if (update.rows.length) {
        const empty = document.getElementById('log-empty');
        if (empty) empty.remove();
      }
      document.getElementById('counts').replaceWith(counts(update.counts));
      state.textContent = 'Live: updated ' + update.updated + '.';
    } catch (error) {
      state.textContent = 'Live updates paused: ' + error.message + '. Retrying…';
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
