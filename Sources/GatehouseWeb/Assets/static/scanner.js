'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = 'gatehouse.scanner';
  // One call's deadline. A Confirm whose answer is lost is asked again with the same scanId (the
  // service answers a retry with its first decision), with longer deadlines, before the page says
  // it does not know.
  const TIMEOUT_MS = 6000;
  const COMMIT_DEADLINES_MS = [6000, 8000, 10000];
  // While a result shows, the service is asked every 1.5 s whether it is still there: a result
  // goes stale within 4 s of losing it, also when the phone's own network is up.
  const HEARTBEAT_MS = 1500;
  const HEARTBEAT_TIMEOUT_MS = 2500;
  // How long after a check-in the service lets this phone take it back.
  const UNDO_WINDOW_MS = 15 * 60 * 1000;
  const WORDS = {valid: 'Valid', already_used: 'Already used', not_found: 'Unknown ticket', wrong_event: 'Wrong event',
    expired: 'Expired', revoked: 'Revoked', invalid: 'Not a ticket', not_on_list: 'Not for this gate', not_open: 'Not open yet',
    closed: 'Closed', full: 'Full', already_inside: 'Already inside', exit: 'Let out'};
  // What the screen says of a scan, by the direction it was made in: an exit lets a person out
  // and counts them out of the venue; it is never called a check-in.
  const ACTS = {
    entry: {done: 'checked in', doing: 'Checking in…', pending: 'Valid — not checked in yet', badge: '✅ Checked in',
      press: 'Press Confirm to check in.', button: '✅ Confirm check-in'},
    exit: {done: 'counted out', doing: 'Counting out…', pending: 'May leave — exit not recorded yet', badge: '🚪 Counted out',
      press: 'Press Confirm to record the exit.', button: '🚪 Confirm exit'},
  };
  const DIRECTION_KEY = 'gatehouse.scanner.direction';
  let direction = 'entry';
  let session = null;
  // The ticket on screen: {qrData, scanId, direction, answer, state}, state one of
  // valid (validated, not checked in), committing, committed, refused, unknown (the commit's
  // answer was lost and could not be had again), undoing, annulled (taken back), undo-unknown
  // (the Undo's answer was lost).
  let current = null;
  let busy = false;
  // Whole codes waiting their turn: a wedge scanner types faster than the service answers.
  const queue = [];
  let audio = null;
  let stream = null;
  let detector = null;
  let lastCamera = {code: null, at: 0};
  let online = true;
  let clock = null;

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
  async function call(path, options = {}, deadline = TIMEOUT_MS) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), deadline);
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

  function lost(error) { return error.name === 'AbortError' || error instanceof TypeError; }

  function ticketName(entry) {
    const ticket = entry && entry.answer && entry.answer.ticket;
    return ticket ? '#' + ticket.number + (ticket.holderName ? ' (' + ticket.holderName + ')' : '') : 'The last ticket';
  }

  // What the screen may still say about the ticket on it once the service cannot be reached:
  // never more than is known.
  function truthWithoutService() {
    if (!current) return 'No connection: scan again when the connection is back.';
    switch (current.state) {
      case 'committed': return ticketName(current) + ' was ' + ACTS[current.direction].done + '. No connection now: scan the next ticket when it is back.';
      case 'valid': return ticketName(current) + ' was not ' + ACTS[current.direction].done + ': the connection was lost before Confirm. Scan it again when the connection is back.';
      case 'committing':
      case 'unknown': return unknownText(current);
      case 'annulled': return annulledText(current);
      case 'undoing':
      case 'undo-unknown': return undoUnknownText(current);
      default: return 'No connection: scan again when the connection is back.';
    }
  }

  // A second entry scan says whether the first was checked in; a second exit scan cannot (every
  // exit is let out), but an exit counts a person out only once, so confirming it again is safe.
  function unknownText(entry) {
    const again = entry.direction === 'exit'
      ? ' — when connected, scan it again and confirm the exit: a person is counted out only once.'
      : ' — scan it again when connected: a second scan will say.';
    return 'Not known whether ' + ticketName(entry) + ' was ' + ACTS[entry.direction].done + again;
  }

  function annulledText(entry) {
    return ticketName(entry) + ' is not ' + ACTS[entry.direction].done + ' any more: the ticket can be scanned again.';
  }

  // An Undo is asked again with the same scanId, and the service takes a check-in back only
  // once: pressing Undo again when connected is safe and says what happened.
  function undoUnknownText(entry) {
    return 'Not known whether the ' + (entry.direction === 'exit' ? 'exit' : 'check-in') + ' of ' + ticketName(entry) +
      ' was taken back — press Undo again when connected: it is taken back only once.';
  }

  function setOnline(up) {
    if (up === online) return;
    online = up;
    $('offline').hidden = up;
    if (up) {
      // Back: an Undo whose answer was lost may be pressed again (it takes back only once).
      if (current && current.state === 'undo-unknown') show(current);
      return;
    }
    // A green on screen is cleared: it may no longer be true. A Confirm still being asked about
    // goes on (its retries say what is known); queued codes cannot be judged now.
    if (current && (current.state === 'committing' || current.state === 'undoing')) return;
    const dropped = queue.splice(0).length;
    clearResult(truthWithoutService() + (dropped ? ' ' + dropped + ' code(s) scanned meanwhile were not looked at: scan them again.' : ''), 'stale');
    if (current && current.state === 'valid') current = null;
  }

  function clearResult(message, tone) {
    $('confirm').hidden = true;
    $('undo').hidden = true;
    $('details').hidden = true;
    $('detail-box').hidden = true;
    const box = $('status');
    box.className = 'scan-status' + (tone ? ' ' + tone : '');
    box.replaceChildren(element('p', tone ? '' : 'muted', message));
  }

  function when(iso) {
    if (!iso) return '';
    const date = new Date(iso);
    return (clock || new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'})).format(date);
  }

  // Valid (not yet checked in) and Checked in look nothing alike: amber and dashed, asking for
  // Confirm, against solid green with a tick.
  function show(entry, note) {
    const answer = entry.answer;
    const box = $('status');
    const parts = [];
    if (note) parts.push(element('p', 'previous', note));
    let tone;
    let badge;
    switch (entry.state) {
      case 'valid': tone = 'pending'; badge = element('span', 'badge pending', ACTS[entry.direction].pending); break;
      case 'committing': tone = 'pending'; badge = element('span', 'badge pending', ACTS[entry.direction].doing); break;
      case 'committed': tone = 'valid'; badge = element('span', 'badge ok', ACTS[entry.direction].badge); break;
      case 'unknown': tone = 'stale'; badge = element('span', 'badge', '❔ Not known'); break;
      case 'undoing': tone = 'pending'; badge = element('span', 'badge pending', 'Taking back…'); break;
      case 'annulled': tone = 'used'; badge = element('span', 'badge warn', '↩ Taken back'); break;
      case 'undo-unknown': tone = 'stale'; badge = element('span', 'badge', '❔ Not known'); break;
      default:
        tone = answer.result === 'already_used' ? 'used' : 'refused';
        badge = element('span', 'badge ' + (answer.result === 'already_used' ? 'warn' : 'bad'), '⛔ ' + (WORDS[answer.result] || answer.result));
    }
    box.className = 'scan-status ' + tone;
    parts.push(badge);
    // The gate's list asks staff to look at this ticket's type (an ID, a child with an adult).
    if (answer.attention && (entry.state === 'valid' || entry.state === 'committing' || entry.state === 'committed')) {
      const type = answer.ticket && answer.ticket.ticketType;
      parts.push(element('p', 'attention', '👀 Look first: ' + (type ? type + ' ticket' : 'this ticket') + ' — check before they go in.'));
    }
    if (answer.ticket) {
      parts.push(element('div', 'holder', answer.ticket.holderName || 'No name on ticket'));
      parts.push(element('div', 'number', 'Ticket #' + answer.ticket.number + (answer.ticket.ticketType ? ' · ' + answer.ticket.ticketType : '')));
    }
    if (entry.state === 'valid') {
      parts.push(element('p', 'instruction', ACTS[entry.direction].press));
    } else if (entry.state === 'committing') {
      parts.push(element('p', 'instruction', entry.retrying ? 'No answer yet: asking again…' : ACTS[entry.direction].doing));
    } else if (entry.state === 'unknown') {
      parts.push(element('p', '', unknownText(entry)));
    } else if (entry.state === 'undoing') {
      parts.push(element('p', 'instruction', entry.retrying ? 'No answer yet: asking again…' : 'Taking back…'));
    } else if (entry.state === 'annulled') {
      parts.push(element('p', '', annulledText(entry)));
    } else if (entry.state === 'undo-unknown') {
      parts.push(element('p', '', undoUnknownText(entry)));
    } else if (entry.state === 'committed' && entry.undoRefused) {
      parts.push(element('p', '', 'Not taken back: ' + entry.undoRefused));
    } else if (answer.result === 'already_used') {
      parts.push(element('p', '', 'Already used at ' + (answer.firstUsedGate || '?') + ', ' + when(answer.firstUsedAt)));
    } else if (entry.state === 'refused') {
      parts.push(element('p', '', answer.message || ''));
    }
    box.replaceChildren(...parts);
    $('confirm').textContent = ACTS[entry.direction].button;
    $('confirm').hidden = entry.state !== 'valid';
    $('undo').hidden = !(undoable(entry) && Date.now() - entry.committedAt < UNDO_WINDOW_MS);
    $('details').hidden = !answer.ticket;
  }

  // Takes the check-in on screen back (the guest did not go through after all): asked again
  // with longer deadlines when the answer is lost — an annul answers a retry as the first — and
  // never called done or not done unless the service said so.
  function undoable(entry) {
    return (entry.state === 'committed' && !entry.undoRefused) || entry.state === 'undo-unknown';
  }

  async function undo() {
    if (!current || !undoable(current) || busy) return;
    busy = true;
    const entry = current;
    entry.state = 'undoing';
    entry.retrying = false;
    show(entry);
    try {
      const asked = await askUntilAnswered(entry, '/api/checkins/' + encodeURIComponent(entry.scanId) + '/annul',
        {deviceId: session.deviceId, gateId: session.gateId});
      if (!asked) {
        entry.state = 'undo-unknown';
      } else if (asked.response.ok) {
        entry.state = 'annulled';
      } else {
        entry.state = 'committed';
        entry.undoRefused = asked.answer.detail || 'refused (HTTP ' + asked.response.status + ')';
      }
      if (current === entry) {
        show(entry);
        feedback(entry.state === 'annulled');
      }
    } catch (error) {
      if (error.message !== 'signed out') throw error;
    } finally {
      busy = false;
      $('code').focus();
      pump();
    }
  }

  // Asks the service until it answers: a lost answer is asked again with the same body (the
  // service answers a retry as it answered first) under longer deadlines. Returns {response,
  // answer}, or null when no answer came; throws 'signed out' when the phone was signed out.
  async function askUntilAnswered(entry, path, body) {
    for (let attempt = 0; attempt < COMMIT_DEADLINES_MS.length; attempt += 1) {
      try {
        const response = await call(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)},
          COMMIT_DEADLINES_MS[attempt]);
        if (response.status >= 500) throw new TypeError('service unavailable');
        return {response, answer: await response.json()};
      } catch (error) {
        if (error.message === 'signed out') throw error;
        entry.retrying = true;
        if (current === entry) show(entry);
        await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
      }
    }
    return null;
  }

  // An entry passes when it is valid; an exit is always let out (and counted out when inside).
  function passes(answer) {
    return answer.result === 'valid' || answer.result === 'exit';
  }

  // The switch between Entry and Exit, kept on this phone. A Valid on screen was asked for the
  // other direction: it is cleared, not confirmed the wrong way.
  function setDirection(way) {
    direction = way === 'exit' ? 'exit' : 'entry';
    for (const input of document.querySelectorAll('input[name=direction]')) input.checked = input.value === direction;
    try { localStorage.setItem(DIRECTION_KEY, direction); } catch (error) { /* private mode: this page only */ }
    if (current && current.state === 'valid' && current.direction !== direction) {
      current = null;
      clearResult('Now scanning ' + (direction === 'exit' ? 'exits' : 'entries') + ': scan the ticket again.', '');
    }
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

  // Codes from the wedge, the form or the camera: each whole code waits its turn.
  function enqueue(text) {
    for (const line of String(text).split(/[\r\n]+/)) {
      const code = line.trim();
      if (code) queue.push(code);
    }
    pump();
  }

  async function pump() {
    if (busy || !session) return;
    while (queue.length && session) {
      // A Confirm or an Undo being asked about finishes first: its ticket must not be dropped unsaid.
      if (current && (current.state === 'committing' || current.state === 'undoing')) return;
      await check(queue.shift());
    }
  }

  // What the next screen says about a ticket it replaces without a check-in.
  function leftBehind() {
    if (!current) return null;
    if (current.state === 'valid') return ticketName(current) + ' was not ' + ACTS[current.direction].done + '.';
    if (current.state === 'unknown') return unknownText(current);
    if (current.state === 'undo-unknown') return undoUnknownText(current);
    return null;
  }

  async function check(qrData) {
    busy = true;
    const note = leftBehind();
    current = null;
    clearResult('Checking…', '');
    const scanId = newScanId();
    const way = direction;
    try {
      const response = await call('/api/checkin', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({qrData, deviceId: session.deviceId, gateId: session.gateId, scanId, mode: 'validate', direction: way})});
      const answer = await response.json();
      if (!response.ok) { clearResult((note ? note + ' ' : '') + (answer.detail || 'Refused (HTTP ' + response.status + ')'), 'refused'); feedback(false); return; }
      current = {qrData, scanId, direction: way, answer, state: passes(answer) ? 'valid' : 'refused'};
      show(current, note);
      feedback(passes(answer));
      if (passes(answer)) $('confirm').focus();
    } catch (error) {
      // Nothing was checked in by a validate: saying so is true here.
      if (error.message !== 'signed out') clearResult((note ? note + ' ' : '') + (lost(error) ? 'No connection: that code was not looked at. Scan it again when the connection is back.' : 'Could not check: ' + error.message), 'stale');
    } finally {
      busy = false;
      $('code').focus();
    }
  }

  async function confirm() {
    if (!current || current.state !== 'valid' || busy) return;
    busy = true;
    const entry = current;
    entry.state = 'committing';
    show(entry);
    try {
      const asked = await askUntilAnswered(entry, '/api/checkin',
        {qrData: entry.qrData, deviceId: session.deviceId, gateId: session.gateId, scanId: entry.scanId, mode: 'commit', direction: entry.direction});
      if (!asked) {
        entry.state = 'unknown';
      } else if (!asked.response.ok) {
        entry.state = 'refused';
        entry.answer = {result: 'invalid', message: asked.answer.detail || 'Refused (HTTP ' + asked.response.status + ')'};
      } else {
        entry.answer = asked.answer;
        entry.state = passes(asked.answer) ? 'committed' : 'refused';
        entry.committedAt = Date.now();
      }
      if (current === entry) {
        show(entry);
        feedback(entry.state === 'committed');
      }
    } catch (error) {
      if (error.message !== 'signed out') throw error;
    } finally {
      busy = false;
      $('code').focus();
      pump();
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
    const note = leftBehind();
    current = null;
    clearResult((note ? note + ' ' : '') + 'Ready: scan a ticket.', '');
    lastCamera = {code: null, at: 0};
    $('code').focus();
  }

  // While a result shows, is the service still there? (navigator.onLine only knows the phone's
  // own network.)
  async function heartbeat() {
    if (!session || busy) return;
    if (online && (!current || (current.state !== 'valid' && current.state !== 'committed'))) return;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), HEARTBEAT_TIMEOUT_MS);
    try {
      const response = await fetch('/healthz', {cache: 'no-store', signal: controller.signal});
      setOnline(response.ok);
    } catch (error) {
      setOnline(false);
    } finally {
      clearTimeout(timer);
    }
  }

  // Every 10 s while paired, the phone tells the organizer's gates page it is there: whether
  // its camera is on, whether the service answers, and its last decision (no names).
  const REPORT_MS = 10000;
  async function report() {
    if (!session) return;
    const body = {deviceId: session.deviceId, gateId: session.gateId, version: 'web', camera: stream ? 'ok' : 'none', online};
    const ticket = current && current.answer && current.answer.ticket;
    if (current && current.answer) body.lastDecision = current.answer.result + (ticket ? ' #' + ticket.number : '');
    try {
      await call('/api/devices/' + encodeURIComponent(session.deviceId) + '/heartbeat',
        {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)}, HEARTBEAT_TIMEOUT_MS);
    } catch (error) { /* the next one, or the check-ins themselves, say the rest */ }
  }

  // The camera: the browser's own QR detector where it has one, else frames to our decoder.
  async function toggleCamera() {
    if (stream) { stopCamera(); return; }
    try {
      const opened = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment', width: {ideal: 1280}}, audio: false});
      // A second tap while the browser asked for the camera: keep the first stream only.
      if (stream) { opened.getTracks().forEach((track) => track.stop()); return; }
      stream = opened;
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
            enqueue(code);
          }
        } catch (error) { /* a lost frame; the next one follows */ }
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  function showPair(message) {
    stopCamera();
    $('scan').hidden = true;
    $('signout-confirm').hidden = true;
    $('pair').hidden = false;
    const error = $('pair-error');
    error.hidden = !message;
    error.textContent = message || '';
    $('pair-code').focus();
    offerStaffPairing();
  }

  // A steward (or anyone who may scan) signed in on this browser pairs without a code: the page
  // offers their events, and the phone then shows their address as who is scanning.
  async function offerStaffPairing() {
    const form = $('staff-pair');
    form.hidden = true;
    try {
      const response = await fetch('/api/scanner/account', {credentials: 'same-origin', cache: 'no-store'});
      if (!response.ok) return;
      const account = await response.json();
      if (account.events.length === 0) return;
      const select = $('staff-event');
      const chosen = select.value;
      select.replaceChildren(...account.events.map((event) => new Option(event.name, event.id, false, event.id === chosen)));
      $('staff-who').textContent = 'Signed in as ' + account.email + ' (' + account.role + '): pair this phone without a code.';
      form.hidden = false;
    } catch (error) { /* no connection: the code form is still there */ }
  }

  // Each pairing is one attempt, named by a random id the page keeps until it has an answer:
  // asked again after a lost answer, the service gives back the device the first ask made,
  // so no paired device is left that no phone holds, and no second one is made.
  const PAIRING_KEY = 'gatehouse.staffPairing';
  const PAIRING_ASKS = 4;

  function pendingPairing(eventId, gateId) {
    let pending = null;
    try { pending = JSON.parse(sessionStorage.getItem(PAIRING_KEY) || 'null'); } catch (error) { pending = null; }
    if (!pending || pending.eventId !== eventId || pending.gateId !== gateId) {
      pending = {eventId, gateId, attempt: newScanId().slice(4)};
      sessionStorage.setItem(PAIRING_KEY, JSON.stringify(pending));
    }
    return pending;
  }

  async function pairSignedIn() {
    const pending = pendingPairing($('staff-event').value, $('staff-gate').value.trim());
    const button = $('staff-pair').querySelector('button');
    const said = $('staff-status');
    button.disabled = true;
    try {
      for (let ask = 1; ask <= PAIRING_ASKS; ask += 1) {
        said.hidden = false;
        said.textContent = ask === 1 ? 'Pairing…' : 'No answer yet: asking again for the same pairing (never a second one)…';
        let response;
        let answer = null;
        try {
          response = await call('/api/scanner/pair', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(pending)});
          answer = await response.json();
        } catch (error) {
          await new Promise((resolve) => setTimeout(resolve, 1000 * ask));
          continue;
        }
        if ((response.status === 201 || response.status === 200) && answer.token) {
          sessionStorage.removeItem(PAIRING_KEY);
          session = {deviceId: answer.deviceId, gateId: answer.gateId, eventId: answer.eventId, token: answer.token};
          save();
          said.hidden = true;
          await start();
          return;
        }
        if (response.status >= 500) {
          await new Promise((resolve) => setTimeout(resolve, 1000 * ask));
          continue;
        }
        // A refusal is an answer: this attempt paired nothing.
        sessionStorage.removeItem(PAIRING_KEY);
        said.hidden = true;
        showPair(answer.detail || 'Pairing refused (HTTP ' + response.status + ')');
        return;
      }
      said.hidden = true;
      showPair('Not known whether this phone was paired: Gatehouse did not answer. Press Pair as me again when the connection is back: it asks for the same pairing, never a second device.');
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    localStorage.removeItem(KEY);
    session = null;
    current = null;
    queue.splice(0);
    showPair(message);
  }

  // Signing out asks first, and ends the pairing on the service too: the token the phone drops
  // must not go on working.
  async function confirmSignOut() {
    let message = 'Signed out. Pair again with a new code from the organizer.';
    try {
      const response = await call('/api/scanner/signout', {method: 'POST'});
      if (!response.ok) throw new Error('HTTP ' + response.status);
    } catch (error) {
      if (error.message === 'signed out') return;
      message = 'Signed out on this phone, but the service could not be told (' + error.message + '): ask the organizer to revoke this phone on the Devices page.';
    }
    signOut(message);
  }

  // A random id this phone keeps: phones behind one venue address each have their own backoff
  // after wrong codes, so one person's typos never lock out the rest.
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
      // Times in the organizer's zone, on a 24-hour clock, as on the organizer's pages.
      try { clock = new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: who.timeZone}); } catch (error) { clock = null; }
    } catch (error) {
      if (error.message === 'signed out') return;
      $('whoami').textContent = 'Gate ' + session.gateId + ' (offline)';
    }
    $('pair').hidden = true;
    $('scan').hidden = false;
    scanNext();
  }

  function pairFromLink() {
    const hash = new URLSearchParams(location.hash.slice(1));
    const code = hash.get('pair');
    if (!code) return false;
    history.replaceState(null, '', location.pathname);
    if (session) {
      // Already paired: said so, and the link's code kept for after signing out.
      $('pair-code').value = code;
      current = null;
      clearResult('A pairing link was opened, but this phone is already paired (gate ' + session.gateId + '). To pair it again, sign it out first (at the bottom).', 'stale');
      return false;
    }
    $('pair-code').value = code;
    pair(code);
    return true;
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('pair-form').addEventListener('submit', (event) => { event.preventDefault(); pair($('pair-code').value); });
    $('staff-pair').addEventListener('submit', (event) => { event.preventDefault(); pairSignedIn(); });
    // A keyboard-wedge scanner types the code and Enter into whatever has the focus. The field is
    // emptied the moment Enter comes, so the next code's keys never join this one.
    $('scan-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const text = $('code').value;
      $('code').value = '';
      enqueue(text);
    });
    $('code').addEventListener('input', () => {
      // Pasted or burst input with line breaks: each line is a code.
      const text = $('code').value;
      if (/[\r\n]/.test(text)) { $('code').value = ''; enqueue(text); }
    });
    $('confirm').addEventListener('click', confirm);
    $('undo').addEventListener('click', undo);
    for (const input of document.querySelectorAll('input[name=direction]')) {
      input.addEventListener('change', () => { if (input.checked) setDirection(input.value); $('code').focus(); });
      // A tap on the way already chosen changes nothing, but the next wedge scan must still land
      // in the code field, not on the switch.
      input.addEventListener('click', () => $('code').focus());
    }
    let saved = null;
    try { saved = localStorage.getItem(DIRECTION_KEY); } catch (error) { /* private mode */ }
    setDirection(saved);
    $('next').addEventListener('click', scanNext);
    $('details').addEventListener('click', details);
    $('camera').addEventListener('click', toggleCamera);
    $('signout').addEventListener('click', () => { $('signout-confirm').hidden = false; $('signout-yes').focus(); });
    $('signout-no').addEventListener('click', () => { $('signout-confirm').hidden = true; $('code').focus(); });
    $('signout-yes').addEventListener('click', confirmSignOut);
    document.addEventListener('keydown', (event) => {
      if ($('scan').hidden || event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key.length === 1) $('code').focus();
    });
    window.addEventListener('offline', () => setOnline(false));
    window.addEventListener('online', () => heartbeat());
    window.addEventListener('hashchange', pairFromLink);
    setInterval(heartbeat, HEARTBEAT_MS);
    setInterval(report, REPORT_MS);
    setTimeout(report, 1000);
    if ('serviceWorker' in navigator) navigator.serviceWorker.register('/scanner/sw.js', {scope: '/scanner'}).catch(() => {});
    session = load();
    if (pairFromLink()) return;
    if (session) start(); else showPair(null);
  });
})();
