'use strict';
// Live figures on an organizer's page (the Lists page's counts, the gates page's lights): the
// page's JSON asked for every three seconds and handed to `draw`. Figures that cannot be had are
// said to be old, never left as if current: a call that fails, and one that has not answered
// within its deadline (a slow or stalled connection fails nothing), both turn the page's status
// to "not updating" and name the time of the figures shown.
window.gatehouseLive = (url, state, draw, what) => {
  const INTERVAL_MS = 3000;
  const DEADLINE_MS = 5000;
  // Figures older than this are called old, whatever the calls are doing meanwhile.
  const STALE_MS = 8000;
  let drawnAt = Date.now();
  let live = true;
  const clock = new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'});

  function say(isLive) {
    live = isLive;
    state.textContent = isLive ? '(updates by itself)'
      : '(not updating: the service did not answer; these are the ' + what + ' of ' + clock.format(new Date(drawnAt)) + ')';
    state.className = isLive ? 'muted' : 'error';
  }

  async function poll() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), DEADLINE_MS);
    const asked = Date.now();
    try {
      const response = await fetch(url, {cache: 'no-store', credentials: 'same-origin', signal: controller.signal});
      if (!response.ok) throw new Error('HTTP ' + response.status);
      draw(await response.json());
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
};
