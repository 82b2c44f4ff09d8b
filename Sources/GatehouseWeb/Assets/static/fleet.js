'use strict';
// The gates page: each device's light and figures, kept current by live.js and drawn as text.
(() => {
  const fleet = document.getElementById('fleet');
  if (!fleet) return;
  const CELLS = ['heard', 'camera', 'snapshot', 'backlog', 'lane', 'last', 'problems'];

  function draw(update) {
    let unknown = 0;
    const counts = {ok: 0, warn: 0, bad: 0};
    for (const device of update.devices) {
      counts[device.tone] = (counts[device.tone] || 0) + 1;
      const row = document.querySelector('tr[data-device="' + CSS.escape(device.id) + '"]');
      if (!row) { unknown += 1; continue; }
      const badge = row.querySelector('.state');
      badge.textContent = device.state;
      badge.className = 'badge ' + device.tone + ' state';
      for (const name of CELLS) {
        const cell = row.querySelector('.' + name);
        if (cell) cell.textContent = device[name];
      }
    }
    const total = update.devices.length;
    document.getElementById('fleet-summary').textContent = total + ' device' + (total === 1 ? '' : 's') + ': ' + counts.ok + ' ok, ' +
      counts.warn + ' to look at, ' + counts.bad + ' not working' + (unknown ? ' (' + unknown + ' new: reload to see them)' : '');
  }

  window.gatehouseLive(fleet.dataset.live, document.getElementById('live-state'), draw, 'states');
})();
