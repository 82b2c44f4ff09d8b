'use strict';
// The check-in lists page: the count of people inside, in all and per list, asked for every
// three seconds and drawn as text. A count that cannot be had is said so, never left as if current:
// a call that fails, and one that has not answered within its deadline (a slow or stalled
// connection fails nothing), both turn the page to "not updating" and name the time of the figures.
(() => {
  const presence = document.getElementById('presence');
  if (!presence) return;
  const state = document.getElementById('live-state');
  const INTERVAL_MS = 3000;
  const DEADLINE_MS = 5000;
  // Figures older than this are called old, whatever the calls are doing meanwhile.
  const STALE_MS = 8000;
  let drawnAt = Date.now();
  let live = true;
  const clock = new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'});

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

  function say(isLive) {
    live = isLive;
    if (isLive) {
      state.textContent = '(updates by itself)';
      state.className = 'muted';
    } else {
      state.textContent = '(not updating: the service did not answer; these are the numbers of ' + clock.format(new Date(drawnAt)) + ')';
      state.className = 'error';
    }
  }

  async function poll() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), DEADLINE_MS);
    const asked = Date.now();
    try {
      const response = await fetch(presence.dataset.live, {cache: 'no-store', credentials: 'same-origin', signal: controller.signal});
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const update = await response.json();
      draw(update);
      // The figures are as old as the question: the answer may have been long on its way.
      drawnAt = asked;
      say(true);
    } catch (error) {
      say(false);
    } finally {
      clearTimeout(timer);
      setTimeout(poll, INTERVAL_MS);
    }
  }

  setInterval(() => { if (live && Date.now() - drawnAt > STALE_MS) say(false); }, 1000);
  setTimeout(poll, INTERVAL_MS);
})();
