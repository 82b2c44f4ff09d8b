'use strict';
(() => {
  const bar = document.getElementById('import-bar');
  const count = document.getElementById('import-count');
  if (!bar) return;
  async function poll() {
    try {
      const response = await fetch(location.pathname + '/progress', {cache: 'no-store', credentials: 'same-origin'});
      const job = await response.json();
      bar.max = job.total; bar.value = job.issued;
      count.textContent = job.issued + ' of ' + job.total + ' tickets issued';
      if (job.done) { location.reload(); return; }
    } catch (error) {
      count.textContent = 'Progress unavailable (' + error.message + '); retrying…';
    }
    setTimeout(poll, 700);
  }
  setTimeout(poll, 500);
})();
