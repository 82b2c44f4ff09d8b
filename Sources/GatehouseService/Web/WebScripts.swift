/// The pages' scripts, served from /static (the CSP allows no other). Small, no libraries, and
/// every page works without them except the camera and the live updates.
enum WebScripts {
    /// The printable sheet's Print button.
    static let print = #"""
        'use strict';
        document.getElementById('print-sheet')?.addEventListener('click', () => window.print());
        """#

    /// The CSV import's progress: polls the job until it is done, then shows the sheet's link.
    static let importProgress = #"""
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
        """#

    /// The check-in log's live view: new rows on top and fresh numbers, every two seconds.
    static let checkins = #"""
        'use strict';
        (() => {
          const table = document.getElementById('log');
          const state = document.getElementById('live-state');
          if (!table) return;
          let after = Number(table.dataset.after || 0);
          const body = table.tBodies[0];
          async function poll() {
            const query = new URLSearchParams(location.search);
            query.set('after', String(after));
            try {
              const response = await fetch(location.pathname + '/live?' + query, {cache: 'no-store', credentials: 'same-origin'});
              if (!response.ok) throw new Error('HTTP ' + response.status);
              const update = await response.json();
              for (const row of update.rows) {
                const template = document.createElement('template');
                template.innerHTML = row.html.trim();
                body.prepend(template.content.firstElementChild);
                after = Math.max(after, row.id);
              }
              while (body.rows.length > 300) body.deleteRow(-1);
              if (update.rows.length) document.getElementById('log-empty')?.remove();
              const counts = document.getElementById('counts');
              const template = document.createElement('template');
              template.innerHTML = update.counts.trim();
              counts.replaceWith(template.content.firstElementChild);
              state.textContent = 'Live: updated ' + update.updated + '.';
            } catch (error) {
              state.textContent = 'Live updates paused: ' + error.message + '. Retrying…';
            }
            setTimeout(poll, 2000);
          }
          setTimeout(poll, 2000);
        })();
        """#

    /// The scanner's service worker: makes the page installable, and answers nothing from a cache
    /// (a stale page or answer at a gate is worse than none).
    static let serviceWorker = #"""
        'use strict';
        self.addEventListener('install', () => self.skipWaiting());
        self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
        self.addEventListener('fetch', () => { /* network only: the browser fetches as usual */ });
        """#
}
