'use strict';
// The check-in lists page: the count of people inside, in all and per list, kept current by
// live.js and drawn as text.
(() => {
  const presence = document.getElementById('presence');
  if (!presence) return;

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

  window.gatehouseLive(presence.dataset.live, document.getElementById('live-state'), draw, 'numbers');
})();
