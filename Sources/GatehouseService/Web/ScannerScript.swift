/// The staff scanner's script (/static/scanner.js). Pairing, then for each code: validate, show,
/// and commit only on Confirm with the same scanId. A lost connection clears the result at once:
/// the screen never keeps a green from before.
enum ScannerScript {
    static let source = #"""
        'use strict';
        (() => {
          const $ = (id) => document.getElementById(id);
          const KEY = 'gatehouse.scanner';
          const TIMEOUT_MS = 6000;
          const WORDS = {valid: 'Valid', already_used: 'Already used', not_found: 'Unknown ticket', wrong_event: 'Wrong event',
            expired: 'Expired', revoked: 'Revoked', invalid: 'Not a ticket'};
          let session = null;
          let current = null;
          let busy = false;
          let audio = null;
          let stream = null;
          let detector = null;
          let lastCamera = {code: null, at: 0};

          function load() { try { return JSON.parse(localStorage.getItem(KEY)); } catch (error) { return null; } }
          function save() { localStorage.setItem(KEY, JSON.stringify(session)); }

          function element(tag, className, text) {
            const node = document.createElement(tag);
            if (className) node.className = className;
            if (text !== undefined) node.textContent = text;
            return node;
          }

          function newScanId() {
            const bytes = new Uint8Array(16);
            crypto.getRandomValues(bytes);
            return 'web-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
          }

          // Every call: the device token, a deadline, and the connection state from its outcome.
          async function call(path, options = {}) {
            const controller = new AbortController();
            const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
            const headers = Object.assign({}, options.headers || {});
            if (session) headers.Authorization = 'Bearer ' + session.token;
            try {
              const response = await fetch(path, Object.assign({}, options, {headers, signal: controller.signal, cache: 'no-store'}));
              setOnline(true);
              if (response.status === 401 && session) {
                signOut('This phone was signed out: its pairing was revoked or replaced. Pair it again to go on.');
                throw new Error('signed out');
              }
              return response;
            } catch (error) {
              if (error.name === 'AbortError' || error instanceof TypeError) setOnline(false);
              throw error;
            } finally {
              clearTimeout(timer);
            }
          }

          function setOnline(up) {
            const banner = $('offline');
            if (up) { banner.hidden = true; return; }
            banner.hidden = false;
            clearResult('No connection: nothing was checked in. Scan again when the connection is back.', 'refused');
          }

          function clearResult(message, tone) {
            current = null;
            $('confirm').hidden = true;
            $('details').hidden = true;
            $('detail-box').hidden = true;
            const box = $('status');
            box.className = 'scan-status' + (tone ? ' ' + tone : '');
            box.replaceChildren(element('p', tone ? '' : 'muted', message));
          }

          function when(iso) {
            if (!iso) return '';
            const date = new Date(iso);
            return date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'}) + (new Date().toDateString() === date.toDateString() ? '' : ', ' + date.toLocaleDateString());
          }

          function show(answer, committed) {
            const valid = answer.result === 'valid';
            const box = $('status');
            box.className = 'scan-status ' + (valid ? 'valid' : answer.result === 'already_used' ? 'used' : 'refused');
            const parts = [];
            const tone = valid ? 'ok' : answer.result === 'already_used' ? 'warn' : 'bad';
            parts.push(element('span', 'badge ' + tone, valid ? (committed ? '✅ Checked in' : 'Valid') : '⛔ ' + (WORDS[answer.result] || answer.result)));
            if (answer.ticket) {
              parts.push(element('div', 'holder', answer.ticket.holderName || 'No name on ticket'));
              parts.push(element('div', 'number', 'Ticket #' + answer.ticket.number + (answer.ticket.ticketType ? ' · ' + answer.ticket.ticketType : '')));
            }
            if (answer.result === 'already_used') {
              parts.push(element('p', '', 'Already used at ' + (answer.firstUsedGate || '?') + ', ' + when(answer.firstUsedAt)));
            } else if (!valid) {
              parts.push(element('p', '', answer.message || ''));
            }
            box.replaceChildren(...parts);
          }

          function feedback(good) {
            try {
              if (navigator.vibrate) navigator.vibrate(good ? 80 : [200, 100, 200]);
              audio = audio || new (window.AudioContext || window.webkitAudioContext)();
              const tone = audio.createOscillator();
              const gain = audio.createGain();
              tone.frequency.value = good ? 880 : 220;
              gain.gain.value = 0.15;
              tone.connect(gain).connect(audio.destination);
              tone.start();
              tone.stop(audio.currentTime + (good ? 0.12 : 0.35));
            } catch (error) { /* no sound here: the screen says it all */ }
          }

          async function check(text) {
            const qrData = text.trim();
            if (!qrData || busy || !session) return;
            busy = true;
            clearResult('Checking…', '');
            const scanId = newScanId();
            try {
              const response = await call('/api/checkin', {method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({qrData, deviceId: session.deviceId, gateId: session.gateId, scanId, mode: 'validate'})});
              const answer = await response.json();
              if (!response.ok) { clearResult(answer.detail || 'Refused (HTTP ' + response.status + ')', 'refused'); feedback(false); return; }
              current = {qrData, scanId, answer};
              show(answer, false);
              $('confirm').hidden = answer.result !== 'valid';
              $('details').hidden = !answer.ticket;
              feedback(answer.result === 'valid');
              if (answer.result === 'valid') $('confirm').focus();
            } catch (error) {
              if (error.message !== 'signed out' && $('offline').hidden) clearResult('Could not check: ' + error.message, 'refused');
            } finally {
              busy = false;
              $('code').value = '';
            }
          }

          async function confirm() {
            if (!current || current.answer.result !== 'valid' || busy) return;
            busy = true;
            const button = $('confirm');
            button.disabled = true;
            try {
              const response = await call('/api/checkin', {method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({qrData: current.qrData, deviceId: session.deviceId, gateId: session.gateId, scanId: current.scanId, mode: 'commit'})});
              const answer = await response.json();
              if (!response.ok) { clearResult(answer.detail || 'Refused (HTTP ' + response.status + ')', 'refused'); feedback(false); return; }
              current.answer = answer;
              show(answer, true);
              button.hidden = true;
              feedback(answer.result === 'valid');
            } catch (error) {
              if (error.message !== 'signed out' && $('offline').hidden) clearResult('Could not check in: ' + error.message, 'refused');
            } finally {
              busy = false;
              button.disabled = false;
              $('code').focus();
            }
          }

          async function details() {
            if (!current || !current.answer.ticket) return;
            const box = $('detail-box');
            try {
              const response = await call('/api/scanner/tickets/' + encodeURIComponent(current.answer.ticket.id));
              const ticket = await response.json();
              if (!response.ok) throw new Error(ticket.detail || 'HTTP ' + response.status);
              const rows = [['Holder', ticket.holderName || '—'], ['E-mail', ticket.email || '—'], ['Ticket type', ticket.ticketType || '—'],
                ['Number', '#' + ticket.number], ['Status', ticket.status]];
              box.replaceChildren(...rows.flatMap(([term, value]) => [element('dt', '', term), element('dd', '', value)]));
              box.hidden = false;
            } catch (error) {
              if (error.message !== 'signed out') { box.replaceChildren(element('dd', 'error', 'Details unavailable: ' + error.message)); box.hidden = false; }
            }
          }

          function scanNext() {
            clearResult('Ready: scan a ticket.', '');
            lastCamera = {code: null, at: 0};
            $('code').focus();
          }

          // The camera: the browser's own QR detector where it has one, else frames to our decoder.
          async function toggleCamera() {
            if (stream) { stopCamera(); return; }
            try {
              stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment', width: {ideal: 1280}}, audio: false});
            } catch (error) {
              clearResult('No camera: ' + error.message + '. Type the code or use a scanner.', 'refused');
              return;
            }
            const video = $('viewfinder');
            video.srcObject = stream;
            video.hidden = false;
            await video.play().catch(() => {});
            detector = null;
            if ('BarcodeDetector' in window) {
              try { if ((await BarcodeDetector.getSupportedFormats()).includes('qr_code')) detector = new BarcodeDetector({formats: ['qr_code']}); } catch (error) { detector = null; }
            }
            $('camera').textContent = '⏹ Stop camera';
            cameraLoop();
          }

          function stopCamera() {
            if (stream) stream.getTracks().forEach((track) => track.stop());
            stream = null;
            $('viewfinder').hidden = true;
            $('camera').textContent = '📷 Camera';
          }

          async function readFrame(video) {
            if (detector) {
              const found = await detector.detect(video);
              return found.length ? found[0].rawValue : null;
            }
            // The longer side at most 640 pixels: what the service takes.
            const scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
            const width = Math.round(video.videoWidth * scale);
            const height = Math.round(video.videoHeight * scale);
            const canvas = readFrame.canvas || (readFrame.canvas = document.createElement('canvas'));
            canvas.width = width;
            canvas.height = height;
            const context = canvas.getContext('2d', {willReadFrequently: true});
            context.drawImage(video, 0, 0, width, height);
            const rgba = context.getImageData(0, 0, width, height).data;
            const grey = new Uint8Array(width * height);
            for (let i = 0, j = 0; i < grey.length; i += 1, j += 4) grey[i] = (rgba[j] * 77 + rgba[j + 1] * 150 + rgba[j + 2] * 29) >> 8;
            const response = await call('/api/scanner/decode?width=' + width + '&height=' + height,
              {method: 'POST', headers: {'Content-Type': 'application/octet-stream'}, body: grey});
            if (!response.ok) return null;
            const decoded = await response.json();
            return decoded.codes.length ? decoded.codes[0] : null;
          }

          async function cameraLoop() {
            const video = $('viewfinder');
            while (stream) {
              // A shown result waits for Scan next; the same code again within 5 s is the same person.
              if (!busy && !current && video.readyState >= 2 && video.videoWidth > 0) {
                try {
                  const code = await readFrame(video);
                  if (code && !(code === lastCamera.code && Date.now() - lastCamera.at < 5000)) {
                    lastCamera = {code, at: Date.now()};
                    await check(code);
                  }
                } catch (error) { /* a lost frame; the next one follows */ }
              }
              await new Promise((resolve) => setTimeout(resolve, 250));
            }
          }

          function showPair(message) {
            stopCamera();
            $('scan').hidden = true;
            $('pair').hidden = false;
            const error = $('pair-error');
            error.hidden = !message;
            error.textContent = message || '';
            $('pair-code').focus();
          }

          function signOut(message) {
            localStorage.removeItem(KEY);
            session = null;
            showPair(message);
          }

          // A random id this phone keeps: phones behind one venue address each have their own
          // backoff after wrong codes, so one person's typos never lock out the rest.
          function clientId() {
            let id = localStorage.getItem('gatehouse.client');
            if (!id) {
              id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
              localStorage.setItem('gatehouse.client', id);
            }
            return id;
          }

          async function pair(code) {
            const error = $('pair-error');
            error.hidden = true;
            try {
              const request = JSON.stringify({code: code.trim(), kind: 'scanner', client: clientId()});
              const response = await fetch('/api/enroll', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: request, cache: 'no-store'});
              const body = await response.json().catch(() => ({}));
              if (response.status !== 201) { showPair(body.detail || 'Pairing refused (HTTP ' + response.status + ')'); return; }
              session = {deviceId: body.deviceId, gateId: body.gateId, eventId: body.eventId, token: body.token};
              save();
              await start();
            } catch (problem) {
              showPair('No connection to Gatehouse: ' + problem.message);
            }
          }

          async function start() {
            try {
              const response = await call('/api/scanner/session');
              const who = await response.json();
              if (!response.ok) throw new Error(who.detail || 'HTTP ' + response.status);
              $('whoami').textContent = 'Gate ' + who.gateId + ' · ' + who.eventName + ' · ' + who.deviceName;
            } catch (error) {
              if (error.message === 'signed out') return;
              $('whoami').textContent = 'Gate ' + session.gateId + ' (offline)';
            }
            $('pair').hidden = true;
            $('scan').hidden = false;
            scanNext();
          }

          document.addEventListener('DOMContentLoaded', () => {
            $('pair-form').addEventListener('submit', (event) => { event.preventDefault(); pair($('pair-code').value); });
            // A keyboard-wedge scanner types the code and Enter into whatever has the focus.
            $('scan-form').addEventListener('submit', (event) => { event.preventDefault(); check($('code').value); });
            $('confirm').addEventListener('click', confirm);
            $('next').addEventListener('click', scanNext);
            $('details').addEventListener('click', details);
            $('camera').addEventListener('click', toggleCamera);
            $('signout').addEventListener('click', () => signOut('Signed out. Pair again with a new code from the organizer.'));
            document.addEventListener('keydown', (event) => {
              if ($('scan').hidden || event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey || event.altKey) return;
              if (event.key.length === 1) $('code').focus();
            });
            window.addEventListener('offline', () => setOnline(false));
            window.addEventListener('online', () => { $('offline').hidden = true; });
            if ('serviceWorker' in navigator) navigator.serviceWorker.register('/scanner/sw.js', {scope: '/scanner'}).catch(() => {});
            const hash = new URLSearchParams(location.hash.slice(1));
            session = load();
            if (hash.get('pair')) {
              history.replaceState(null, '', location.pathname);
              $('pair-code').value = hash.get('pair');
              if (!session) { pair(hash.get('pair')); return; }
            }
            if (session) start(); else showPair(null);
          });
        })();
        """#
}
