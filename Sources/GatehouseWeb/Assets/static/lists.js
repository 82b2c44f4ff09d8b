'use strict';
// The check-in lists page: the count of people inside, in all and per list, asked for every
// three seconds and drawn as text. A count that cannot be had is said so, never left as if current.
(() => {
  const presence = document.getElementById('presence');
  if (!presence) return;
  const state = document.getElementById('live-state');
  const INTERVAL_MS = 3000;

  function draw(update) {
    document.getElementById('inside-total').textContent = String(update.inside);
    for (const list of update.lists) {
      const row = document.querySelector('tr[data-list="' + CSS.escape(list.id) + '"]');
      if (!row) continue;
      row.querySelector('.inside').textContent = String(list.inside);
      const full = row.querySelector('.full');
      if (full) full.hidden = !list.full;
    }
  }

  async function poll() {
    try {
      const response = await fetch(presence.dataset.live, {cache: 'no-store', credentials: 'same-origin'});
      if (!response.ok) throw new Error('HTTP ' + response.status);
      draw(await response.json());
      state.textContent = '(updates by itself)';
      state.className = 'muted';
    } catch (error) {
      state.textContent = '(not updating: the service did not answer; the numbers may be old)';
      state.className = 'error';
    } finally {
      setTimeout(poll, INTERVAL_MS);
    }
  }

  setTimeout(poll, INTERVAL_MS);
})();
