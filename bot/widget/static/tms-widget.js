/* TMS assistant chat widget: vanilla JS, no dependencies. Talks to Rasa's REST channel.
 * Every piece of text becomes DOM text nodes (never HTML), so messages cannot inject markup. */
(function (win, factory) {
  var api = factory(win);
  if (typeof module === 'object' && module.exports) { module.exports = api; return; }
  if (!win || !win.document || win.TMSWidget) return; // loaded twice: keep the first
  win.TMSWidget = api;
  api.autoStart();
}(typeof window !== 'undefined' ? window : null, function (win) {
  'use strict';
  var doc = win && win.document;
  var script = doc && doc.currentScript;
  var DEFAULTS = {
    server: '', title: 'TMS questions', launcherText: 'Questions about TMS?',
    primaryColor: '#1d5b79', initialPayload: '/greet', locale: '', userId: '',
    professionalMessage: 'I want to talk to a professional', professionalPayload: '/talk_to_human',
    storageKey: 'tms-widget', timeoutMs: 30000, cssUrl: '', staffPollMs: 4000
  };
  var MAX_HISTORY = 100;
  var STAFF_POLL_MIN_MS = 100, STAFF_RETRY_MAX_MS = 60000, STAFF_NAME_MAX = 80;
  // The crisis link's text and number come from the server (domain.yml's utter_crisis_link):
  // GET /widget/crisis-link?locale=... gives the visitor's region's line, the same one the
  // crisis reply names. The server writes its default link in here when it sends this file;
  // it is shown if that request fails. Nothing about crisis lines is written in this file.
  var CRISIS_LINK_DEFAULT = null /* default crisis link: written in by bot/server/channels/widget.py */;
  var CRISIS_LINK_TIMEOUT_MS = 2500;  // then the default link (the widget shows by 3 s anyway)
  var SESSION_TIMEOUT_MS = 2500;  // asking for the conversation's id and token (then: without them)
  // The words of the privacy controls (the person's own data: docs/privacy.md).
  var TEXT = {
    options: 'Conversation options', download: 'Download conversation', clear: 'Clear conversation',
    confirmClear: 'Delete this conversation? It is removed from this browser and from the assistant\u2019s ' +
      'server, and cannot be undone.',
    confirmYes: 'Delete conversation', confirmNo: 'Cancel',
    cleared: 'Your conversation was deleted. A new one has started.',
    clearFailed: 'The conversation could not be deleted. Please try again.',
    downloaded: 'Your conversation was downloaded as a text file.',
    nothingToDownload: 'There is nothing to download yet.',
    downloadFailed: 'The conversation could not be downloaded. Please try again.',
    helpfulQuestion: 'Was this helpful?', yes: 'Yes', no: 'No', helpful: 'Yes, helpful', notHelpful: 'No, not helpful',
    thanks: 'Thank you. Your feedback was saved.',
    feedbackFailed: 'Your feedback could not be saved. Please try again.'
  };

  // ---- text: **bold**, line breaks, [links](url) and bare URLs; only safe schemes ----
  var SAFE_HREF = /^(?:https?:\/\/[^\s"'<>\\]+|mailto:[^\s"'<>\\]+|tel:\+?[0-9][0-9().\-]*)$/i;
  var TOKEN = /\*\*([^*\n]+?)\*\*|\[([^\]\n]+)\]\(([^()\s]+)\)|((?:https?:\/\/|mailto:)[^\s<>"]+|tel:\+?\d[\d\-.]*\d)/gi;
  var TRAILING = /[.,;:!?)\]'"]+$/;

  function safeHref(url) {
    url = String(url == null ? '' : url).trim();
    return SAFE_HREF.test(url) ? url : null;
  }

  function parseLine(line) {
    var out = [], last = 0, m, re = new RegExp(TOKEN.source, 'gi');
    while ((m = re.exec(line))) {
      if (m.index > last) out.push({ type: 'text', text: line.slice(last, m.index) });
      last = re.lastIndex;
      if (m[1] !== undefined) {
        out.push({ type: 'strong', children: parseLine(m[1]) });
      } else if (m[2] !== undefined) {
        var href = safeHref(m[3]);
        out.push(href ? { type: 'link', href: href, text: m[2] } : { type: 'text', text: m[0] });
      } else {
        var url = m[4], trail = url.match(TRAILING);
        if (trail) url = url.slice(0, -trail[0].length);
        var safe = safeHref(url);
        out.push(safe ? { type: 'link', href: safe, text: url } : { type: 'text', text: url });
        if (trail) out.push({ type: 'text', text: trail[0] });
      }
    }
    if (last < line.length) out.push({ type: 'text', text: line.slice(last) });
    return out;
  }

  function parseText(text, plain) {
    var out = [];
    String(text == null ? '' : text).split(/\r\n|\r|\n/).forEach(function (line, i) {
      if (i) out.push({ type: 'br' });
      if (plain) { if (line) out.push({ type: 'text', text: line }); } else out = out.concat(parseLine(line));
    });
    return out;
  }

  function appendTokens(d, parent, tokens) {
    tokens.forEach(function (t) {
      var node;
      if (t.type === 'br') node = d.createElement('br');
      else if (t.type === 'strong') { node = d.createElement('strong'); appendTokens(d, node, t.children); }
      else if (t.type === 'link') {
        node = d.createElement('a');
        node.setAttribute('href', t.href);
        if (/^https?:/i.test(t.href)) node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
        node.textContent = t.text;
      } else node = d.createTextNode(t.text);
      parent.appendChild(node);
    });
    return parent;
  }

  // Bot text gets bold and links; the user's own text stays plain (line breaks only).
  function renderText(d, text, plain) {
    return appendTokens(d, d.createDocumentFragment(), parseText(text, plain));
  }

  // A crisis link from the server: {text, href} with a safe href, or null.
  function crisisLinkFrom(data) {
    if (!data || typeof data !== 'object' || typeof data.text !== 'string') return null;
    var text = data.text.trim(), href = safeHref(data.href);
    return text && href ? { text: text, href: href } : null;
  }

  // ---- Rasa REST replies -> [{from:'bot', text, buttons}] ----
  function normalizeReplies(data) {
    if (!Array.isArray(data)) return [];
    return data.reduce(function (out, m) {
      if (!m || typeof m !== 'object') return out;
      var text = typeof m.text === 'string' ? m.text : '';
      if (!text && typeof m.image === 'string' && safeHref(m.image)) text = m.image;
      var buttons = (Array.isArray(m.buttons) ? m.buttons : []).filter(function (b) {
        return b && typeof b.title === 'string' && b.title;
      }).map(function (b) {
        return { title: b.title, payload: typeof b.payload === 'string' && b.payload ? b.payload : b.title };
      });
      if (text || buttons.length) out.push({ from: 'bot', text: text, buttons: buttons });
      return out;
    }, []);
  }

  // ---- a clinic professional's replies (the staff inbox) ----
  // A REST reply item {custom: {handoff: 'waiting'}} means the clinic's staff can answer:
  // the widget then fetches their replies (GET /staff/api/updates) until the handoff ends.
  function handoffSignal(data) {
    if (!Array.isArray(data)) return null;
    return data.reduce(function (found, m) {
      var c = m && typeof m === 'object' ? m.custom : null;
      var value = c && typeof c === 'object' ? c.handoff : null;
      return value === 'waiting' || value === 'claimed' ? value : found;
    }, null);
  }

  // Starts (or keeps) fetching replies; the last reply id seen is kept across handoffs.
  function startHandoff(state) {
    var after = state.staff && state.staff.after > 0 ? state.staff.after : 0;
    state.staff = { active: true, after: after };
    return state.staff;
  }

  function staffLabel(name) { return name ? name + ' \u00b7 clinic team' : 'Clinic team'; }
  function staffAnnouncement(m) { return (m.name ? m.name + ', clinic team: ' : 'Clinic team: ') + m.text; }

  // One answer of /staff/api/updates into the state: new replies (by id, each once) go to the
  // history, `resolved` adds the closing text and ends the handoff, `none` ends it too.
  // Returns {added: [history items], closing: item or null, stopped} or null if malformed.
  function mergeStaffUpdate(state, data) {
    if (!data || typeof data !== 'object' || Array.isArray(data) || typeof data.status !== 'string') return null;
    var staff = state.staff || startHandoff(state);
    var seen = {};
    state.history.forEach(function (m) { if (m && m.from === 'staff' && m.id != null) seen[m.id] = true; });
    var added = (Array.isArray(data.replies) ? data.replies : []).filter(function (r) {
      return r && typeof r === 'object' && typeof r.id === 'number' && r.id > 0 && r.id % 1 === 0 &&
        typeof r.text === 'string' && r.text.trim();
    }).sort(function (a, b) { return a.id - b.id; }).reduce(function (out, r) {
      if (r.id > staff.after && !seen[r.id]) {
        seen[r.id] = true;
        var name = typeof r.name === 'string' ? r.name.trim().slice(0, STAFF_NAME_MAX) : '';
        out.push({ from: 'staff', id: r.id, name: name, text: r.text });
      }
      staff.after = Math.max(staff.after, r.id);
      return out;
    }, []);
    state.history = state.history.concat(added);
    var closing = null, stopped = data.status === 'resolved' || data.status === 'none';
    if (data.status === 'resolved' && typeof data.closing === 'string' && data.closing.trim()) {
      closing = { from: 'bot', text: data.closing, buttons: [] };
      state.history.push(closing);
    }
    if (stopped) staff.active = false;
    return { added: added, closing: closing, stopped: stopped };
  }

  // After n failures in a row: base, 2 x base, 4 x base ... at most 60 s.
  function staffRetryDelay(failures, base) {
    return Math.min(STAFF_RETRY_MAX_MS, base * Math.pow(2, Math.max(0, failures - 1)));
  }

  function staffUpdatesUrl(cfg, senderId, after) {
    return cfg.server + '/staff/api/updates?sender=' + encodeURIComponent(senderId) +
      '&after=' + encodeURIComponent(String(after || 0));
  }

  // ---- storage: sender id + history survive reloads and browser restarts ----
  function memoryStorage() {
    var data = {};
    return {
      getItem: function (k) { return Object.prototype.hasOwnProperty.call(data, k) ? data[k] : null; },
      setItem: function (k, v) { data[k] = String(v); },
      removeItem: function (k) { delete data[k]; }
    };
  }

  function createStore(storage, key, max) {
    storage = storage || memoryStorage();
    max = max || MAX_HISTORY;
    return {
      load: function () {
        try {
          var s = JSON.parse(storage.getItem(key));
          if (s && typeof s.senderId === 'string' && s.senderId && Array.isArray(s.history)) return s;
        } catch (e) { /* corrupt or unavailable: start again */ }
        return null;
      },
      save: function (state) {
        if (state.history.length > max) state.history = state.history.slice(-max);
        try { storage.setItem(key, JSON.stringify(state)); return true; } catch (e) { return false; }
      },
      clear: function () { try { storage.removeItem(key); } catch (e) { /* ignore */ } }
    };
  }

  function newId() {
    var c = win && win.crypto;
    // 'web-' + 32 hex digits: the staff inbox only accepts web-[a-z0-9]{16,64} as the widget's id.
    if (c && c.randomUUID) return 'web-' + c.randomUUID().replace(/-/g, '');  // secure contexts (https, localhost)
    if (c && c.getRandomValues) {
      return 'web-' + Array.prototype.map.call(c.getRandomValues(new Uint8Array(16)), function (b) {
        return (b + 256).toString(16).slice(1);
      }).join('');
    }
    var id = Date.now().toString(36);
    while (id.length < 24) id += Math.random().toString(36).slice(2);
    return 'web-' + id.slice(0, 32);
  }

  // ---- conversation: one request at a time; a failed item waits in `unsent` for retry ----
  // With `o.session` the server gives the conversation its id and a token proving this browser
  // owns it (POST /privacy/api/session), which deleting, downloading and rating need. A
  // conversation kept from before tokens existed cannot get one for its old id (anyone who
  // learnt that id could then claim it): it starts again under a new id, and the old one is
  // deleted on the server by retention. Without a privacy API on the server (404), or while it
  // cannot be reached, the widget keeps its own id and offers no privacy controls.
  function freshState(id, keep) {
    var state = { senderId: id, history: [], greeted: false };
    ['draft', 'unsent', 'open'].forEach(function (k) { if (keep && keep[k] != null) state[k] = keep[k]; });
    return state;
  }

  function validSession(s) {
    return !!s && typeof s === 'object' && typeof s.sender === 'string' && /^web-[a-z0-9-]{16,64}$/.test(s.sender) &&
      typeof s.token === 'string' && /^[0-9a-f]{64}$/.test(s.token);
  }

  function createConversation(o) {
    var makeId = o.newId || newId;
    var state = o.store.load() || freshState(makeId());
    var busy = false, emit = o.on || function () {};
    var identity = Promise.resolve(false);
    o.store.save(state);

    function startSession() {
      if (!o.session || state.token) return identity;
      var asked = state;
      identity = Promise.resolve().then(o.session).then(function (s) {
        if (!validSession(s)) throw new Error('unexpected answer');
        if (asked !== state) return false;  // cleared meanwhile: the new state asks for itself
        var restarted = !!(state.history.length || state.greeted || state.staff);
        if (restarted) state = self.state = freshState(s.sender, state);
        state.senderId = s.sender;
        state.token = s.token;
        o.store.save(state);
        emit('identity', { restarted: restarted });
        return true;
      }).then(null, function () {  // refused, unreachable or nonsense: this browser's own id
        emit('identity', { failed: true });
        return false;
      });
      return identity;
    }

    function send(item) {
      if (busy) return Promise.resolve(false);
      busy = true;
      // One id per message, kept with it while unsent: a retry of a message the server did
      // handle (its answer was lost on the way) gets that answer, not a second turn.
      if (!item.id) item.id = 'm-' + makeId().slice(4);
      state.unsent = item;
      o.store.save(state);
      emit('sending', item);
      return identity.then(function () {
        return o.post({ sender: state.senderId, message: item.message, metadata: o.metadata ? o.metadata() : {},
                        message_id: item.id });
      }).then(function (data) {
        var replies = normalizeReplies(data), handoff = handoffSignal(data);
        busy = false;
        state.unsent = null;
        if (item.display) state.history.push({ from: 'user', text: item.display });
        if (item.initial) state.greeted = true;
        state.history = state.history.concat(replies);
        if (handoff) startHandoff(state);
        o.store.save(state);
        emit('sent', { item: item, replies: replies, handoff: handoff });
        return true;
      }, function (error) {
        busy = false;
        emit('failed', { item: item, error: error });
        return false;
      });
    }

    var self = {
      state: state,
      send: send,
      retry: function (replacement) {
        var item = replacement || state.unsent;
        return item ? send(item) : Promise.resolve(false);
      },
      isBusy: function () { return busy; },
      needsGreeting: function () { return !state.greeted && !state.history.length; },
      save: function () { o.store.save(state); },
      // The id and token once the session question is settled (true: the server gave them).
      identity: function () { return identity; },
      startSession: startSession,
      // The proof of ownership the privacy API needs, or null without a token.
      owner: function () { return state.token ? { sender: state.senderId, token: state.token } : null; },
      // After the conversation was deleted: nothing kept, a new id (and token) for the next one.
      reset: function () {
        o.store.clear();
        state = self.state = freshState(makeId(), { open: state.open });
        o.store.save(state);
        return startSession();
      }
    };
    startSession();
    return self;
  }

  // ---- colours: text on the primary colour keeps a contrast of at least 4.5:1 ----
  function normalizeColor(c) {
    c = String(c || '').trim();
    if (/^#[0-9a-f]{3}$/i.test(c)) c = '#' + c[1] + c[1] + c[2] + c[2] + c[3] + c[3];
    return /^#[0-9a-f]{6}$/i.test(c) ? c.toLowerCase() : null;
  }
  function luminance(hex) {
    var v = [1, 3, 5].map(function (i) {
      var x = parseInt(hex.substr(i, 2), 16) / 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function textColorOn(bg) { return contrast(bg, '#ffffff') >= contrast(bg, '#000000') ? '#ffffff' : '#000000'; }

  // ---- configuration: defaults < window.TMSWidgetConfig < data- attributes ----
  function readConfig(scriptEl, globalConfig, pageUrl) {
    var data = (scriptEl && scriptEl.dataset) || {}, g = globalConfig || {}, c = {};
    Object.keys(DEFAULTS).forEach(function (k) {
      c[k] = data[k] != null && data[k] !== '' ? data[k] : g[k] != null ? g[k] : DEFAULTS[k];
    });
    var src = scriptEl && scriptEl.src ? new URL(scriptEl.src, pageUrl) : null;
    if (!c.server) c.server = src ? src.origin : new URL(pageUrl).origin;
    c.server = String(c.server).replace(/\/+$/, '');
    if (!c.cssUrl) c.cssUrl = src ? new URL('tms-widget.css', src).href : c.server + '/widget/tms-widget.css';
    c.primaryColor = normalizeColor(c.primaryColor) || DEFAULTS.primaryColor;
    c.timeoutMs = Number(c.timeoutMs) || DEFAULTS.timeoutMs;
    c.staffPollMs = Math.max(STAFF_POLL_MIN_MS, Number(c.staffPollMs) || DEFAULTS.staffPollMs);
    return c;
  }

  // The locale sent with every message; the crisis link is fetched for the same one.
  function localeOf(cfg) {
    return String(cfg.locale || (win && win.navigator && win.navigator.language) || 'en-US').trim();
  }

  function crisisLinkUrl(cfg) {
    return cfg.server + '/widget/crisis-link?locale=' + encodeURIComponent(localeOf(cfg));
  }

  function getJson(url, timeoutMs) {
    var ctl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctl && setTimeout(function () { ctl.abort(); }, timeoutMs);
    return fetch(url, { credentials: 'omit', signal: ctl ? ctl.signal : undefined }).then(function (r) {
      clearTimeout(timer);
      if (!r.ok) { var e = new Error('HTTP ' + r.status); e.status = r.status; throw e; }
      return r.json();
    }, function (e) { clearTimeout(timer); throw e; });
  }

  function postJson(url, body, timeoutMs, asText) {
    var ctl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctl && setTimeout(function () { ctl.abort(); }, timeoutMs);
    return fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'omit',
      body: JSON.stringify(body), signal: ctl ? ctl.signal : undefined
    }).then(function (r) {
      clearTimeout(timer);
      if (!r.ok) { var e = new Error('HTTP ' + r.status); e.status = r.status; throw e; }
      return asText ? r.text() : r.json();
    }, function (e) { clearTimeout(timer); throw e; });
  }

  // ---- the person's own data: POST /privacy/api/<route> with the conversation's id and token ----
  function privacyUrl(cfg, route) { return cfg.server + '/privacy/api/' + route; }

  // The name of a downloaded conversation, by the local date: tms-conversation-2025-06-15.txt
  function downloadName(date) {
    function two(n) { return (n < 10 ? '0' : '') + n; }
    return 'tms-conversation-' + date.getFullYear() + '-' + two(date.getMonth() + 1) + '-' + two(date.getDate()) + '.txt';
  }

  // The rateable answer among a turn's replies, from POST /privacy/api/answer: {ts, index} or null.
  function answerOf(data, replies) {
    var a = data && typeof data === 'object' ? data.answer : null;
    if (!a || typeof a !== 'object' || typeof a.ts !== 'number' || !isFinite(a.ts) || a.ts <= 0) return null;
    if (typeof a.index !== 'number' || a.index % 1 !== 0 || a.index < 0 || a.index >= replies.length) return null;
    return { ts: a.ts, index: a.index };
  }

  // ---- the widget in the page ----
  function h(tag, cls, attrs, text) {
    var node = doc.createElement(tag);
    if (cls) node.className = cls;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  function mount(cfg) {
    var uid = 'tms-' + Math.random().toString(36).slice(2, 8);
    var storage = null;
    try { storage = win.localStorage; storage.getItem('x'); } catch (e) { storage = null; }
    var store = createStore(storage, cfg.storageKey + ':' + cfg.server);
    var root = h('aside', 'tms-w', { 'aria-label': cfg.title });
    root.hidden = true;
    root.style.setProperty('--tms-primary', cfg.primaryColor);
    root.style.setProperty('--tms-on-primary', textColorOn(cfg.primaryColor));
    var launcher = h('button', 'tms-launcher', { type: 'button', 'aria-expanded': 'false', 'aria-controls': uid + '-panel' }, cfg.launcherText);
    var panel = h('div', 'tms-panel', { id: uid + '-panel', role: 'dialog', 'aria-labelledby': uid + '-title' });
    panel.hidden = true;
    var head = h('div', 'tms-head');
    var titles = h('div', 'tms-titles');
    titles.appendChild(h('h2', 'tms-title', { id: uid + '-title' }, cfg.title));
    titles.appendChild(h('p', 'tms-sub', null, 'General information, not medical advice'));
    var closeBtn = h('button', 'tms-close', { type: 'button', 'aria-label': 'Close chat' }, '\u00d7');
    // Conversation options (download, clear): a disclosure of plain buttons, shown once the
    // server has given this conversation its token.
    var menuBtn = h('button', 'tms-options', {
      type: 'button', 'aria-label': TEXT.options, 'aria-expanded': 'false', 'aria-controls': uid + '-menu'
    }, '\u22ef');
    menuBtn.hidden = true;
    head.appendChild(titles);
    head.appendChild(menuBtn);
    head.appendChild(closeBtn);
    var menu = h('div', 'tms-menu', { id: uid + '-menu', role: 'group', 'aria-label': TEXT.options });
    menu.hidden = true;
    var downloadBtn = h('button', 'tms-download', { type: 'button' }, TEXT.download);
    var clearBtn = h('button', 'tms-clear', { type: 'button' }, TEXT.clear);
    menu.appendChild(downloadBtn);
    menu.appendChild(clearBtn);
    var confirmBox = h('div', 'tms-confirm', { role: 'group', 'aria-labelledby': uid + '-confirm' });
    confirmBox.hidden = true;
    confirmBox.appendChild(h('p', 'tms-confirm-text', { id: uid + '-confirm' }, TEXT.confirmClear));
    var confirmError = h('p', 'tms-confirm-error', { role: 'alert' });
    confirmError.hidden = true;
    confirmBox.appendChild(confirmError);
    var confirmActions = h('div', 'tms-confirm-actions');
    var confirmYes = h('button', 'tms-confirm-yes', { type: 'button' }, TEXT.confirmYes);
    var confirmNo = h('button', 'tms-confirm-no', { type: 'button' }, TEXT.confirmNo);
    confirmActions.appendChild(confirmYes);
    confirmActions.appendChild(confirmNo);
    confirmBox.appendChild(confirmActions);
    var help = h('div', 'tms-help');
    var crisisLink = h('a', 'tms-crisis');
    crisisLink.hidden = true;  // until the server says which line (one number, never two)
    help.appendChild(crisisLink);
    var proBtn = h('button', 'tms-pro', { type: 'button' }, 'Talk to a professional');
    help.appendChild(proBtn);
    var log = h('div', 'tms-log', { role: 'region', 'aria-label': 'Conversation', tabindex: '0' });
    var typing = h('div', 'tms-msg tms-bot tms-typing', { 'aria-hidden': 'true' });
    for (var i = 0; i < 3; i++) typing.appendChild(h('span', 'tms-dot'));
    var live = h('div', 'tms-sr', { 'aria-live': 'polite' });
    var error = h('div', 'tms-error', { role: 'alert' });
    error.hidden = true;
    var errorText = h('span', null, null, '');
    var retryBtn = h('button', 'tms-retry', { type: 'button' }, 'Retry');
    error.appendChild(errorText);
    error.appendChild(retryBtn);
    var form = h('form', 'tms-form', { novalidate: '' });
    var input = h('input', 'tms-input', {
      id: uid + '-input', type: 'text', autocomplete: 'off', maxlength: '1000',
      enterkeyhint: 'send', placeholder: 'Type your question'
    });
    var sendBtn = h('button', 'tms-send', { type: 'submit' }, 'Send');
    form.appendChild(h('label', 'tms-sr', { for: uid + '-input' }, 'Your message to the assistant'));
    form.appendChild(input);
    form.appendChild(sendBtn);
    [head, menu, confirmBox, help, log, error, form, live].forEach(function (n) { panel.appendChild(n); });
    root.appendChild(panel);
    root.appendChild(launcher);

    var pending = null;
    var notice = '';  // said before the next replies (after a clear: that it was deleted)
    var sends = 0;  // messages sent so far: a rating lookup answered after the next one is stale
    var conv = createConversation({
      store: store,
      session: function () { return postJson(privacyUrl(cfg, 'session'), {}, SESSION_TIMEOUT_MS); },
      post: function (body) { return postJson(cfg.server + '/webhooks/rest/webhook', body, cfg.timeoutMs); },
      metadata: function () {
        var m = { locale: localeOf(cfg), page_url: win.location.href };
        if (cfg.userId) m.user_id = String(cfg.userId);
        return m;
      },
      on: function (type, ev) {
        if (type === 'sending') {
          sends += 1;
          error.hidden = true;
          if (ev.display) pending = addBubble({ from: 'user', text: ev.display }, true);
          log.appendChild(typing);
          scroll();
        } else if (type === 'sent') {
          if (typing.parentNode) log.removeChild(typing);
          if (pending) pending.classList.remove('tms-pending');
          pending = null;
          removeQuickReplies();
          var bubbles = ev.replies.map(function (m) { return addBubble(m); });
          if (ev.item.initial && bubbles.length) addPrivacyNote();
          addQuickReplies(ev.replies);
          if (ev.replies.length && !ev.item.initial) offerRating(ev.replies, bubbles);
          // While a professional has the conversation the reply may be empty: nothing to say.
          if (ev.replies.length) {
            live.textContent = notice + ev.replies.map(function (m) { return m.text; }).join(' ');
            notice = '';
          }
          scroll();
          if (ev.handoff) pollStaffSoon(cfg.staffPollMs);
        } else if (type === 'failed') {
          if (typing.parentNode) log.removeChild(typing);
          if (pending) log.removeChild(pending);
          pending = null;
          // Put the unsent text back in the box, ahead of anything typed since.
          if (ev.item.typed && input.value.indexOf(ev.item.display) !== 0) {
            input.value = ev.item.display + (input.value.trim() ? ' ' + input.value.trim() : '');
            saveDraft();
          }
          errorText.textContent = 'We couldn\u2019t reach the assistant. Your message was not sent. ';
          error.hidden = false;
          scroll();
        } else if (type === 'identity') {
          showPrivacyControls();
        }
      }
    });

    function scroll() { log.scrollTop = log.scrollHeight; }
    // Messages go above the typing dots (a professional may write while the assistant answers).
    function appendToLog(node) { log.insertBefore(node, typing.parentNode === log ? typing : null); }

    // Under the greeting: how messages are kept, the server's short page (GET /privacy).
    function addPrivacyNote() {
      var note = h('p', 'tms-privacy-note');
      note.appendChild(h('a', null, { href: cfg.server + '/privacy', target: '_blank', rel: 'noopener noreferrer' },
        'How your messages are kept, and how to delete them'));
      appendToLog(note);
    }

    function addBubble(m, isPending) {
      if (m.from === 'staff') return addStaffBubble(m);
      var bot = m.from === 'bot';
      var bubble = h('div', 'tms-msg ' + (bot ? 'tms-bot' : 'tms-user') + (isPending ? ' tms-pending' : ''));
      bubble.appendChild(h('span', 'tms-sr', null, bot ? 'Assistant: ' : 'You: '));
      bubble.appendChild(renderText(doc, m.text, !bot));
      appendToLog(bubble);
      if (bot && typeof m.ts === 'number') addRating(bubble, m);
      return bubble;
    }

    // ---- "Was this helpful?" under the turn's answer (the server says which one, if any) ----
    function offerRating(replies, bubbles) {
      var owner = conv.owner();
      if (!owner) return;
      var turn = sends;
      postJson(privacyUrl(cfg, 'answer'), owner, cfg.timeoutMs).then(function (data) {
        // The server names the conversation's latest answer: once another message has gone
        // out, that may be the next turn's, and must not be offered under this turn's replies.
        if (sends !== turn) return;
        var answer = answerOf(data, replies);
        if (!answer || !bubbles[answer.index] || !bubbles[answer.index].parentNode) return;
        replies[answer.index].ts = answer.ts;
        conv.save();
        addRating(bubbles[answer.index], replies[answer.index]);
      }).then(null, function () { /* no rating offered: the answer stays as it is */ });
    }

    function addRating(bubble, m) {
      var group = h('div', 'tms-rate', { role: 'group', 'aria-label': TEXT.helpfulQuestion });
      group.appendChild(h('span', 'tms-rate-q', { 'aria-hidden': 'true' }, TEXT.helpfulQuestion));
      // A thumb and a word: the word still says it where no emoji font is installed.
      var buttons = [[true, '\ud83d\udc4d', TEXT.yes, TEXT.helpful], [false, '\ud83d\udc4e', TEXT.no, TEXT.notHelpful]].map(function (b) {
        var btn = h('button', 'tms-rate-btn', { type: 'button', 'aria-label': b[3], 'aria-pressed': String(m.rating === b[0]) });
        btn.appendChild(h('span', 'tms-thumb', { 'aria-hidden': 'true' }, b[1]));
        btn.appendChild(doc.createTextNode(' ' + b[2]));
        btn.addEventListener('click', function () { rate(m, b[0], buttons); });
        group.appendChild(btn);
        return btn;
      });
      bubble.parentNode.insertBefore(group, bubble.nextSibling);
    }

    function showRating(buttons, rating) {
      buttons[0].setAttribute('aria-pressed', String(rating === true));
      buttons[1].setAttribute('aria-pressed', String(rating === false));
    }

    // One click rates; the other button changes it. Shown at once, undone if not saved.
    function rate(m, helpful, buttons) {
      var owner = conv.owner(), before = m.rating;
      if (!owner || before === helpful) return;
      m.rating = helpful;
      showRating(buttons, helpful);
      var body = { sender: owner.sender, token: owner.token, answer_ts: m.ts, helpful: helpful };
      postJson(privacyUrl(cfg, 'feedback'), body, cfg.timeoutMs).then(function () {
        conv.save();
        live.textContent = TEXT.thanks;
      }, function () {
        if (m.rating === helpful) { m.rating = before; showRating(buttons, before); }
        live.textContent = TEXT.feedbackFailed;
      });
    }

    // A professional's reply: their name and "clinic team" on a line of its own, then the
    // text as plain as the person's own (no links or formatting from it).
    function addStaffBubble(m) {
      var bubble = h('div', 'tms-msg tms-staff');
      bubble.appendChild(h('span', 'tms-staff-name', null, staffLabel(m.name)));
      bubble.appendChild(h('span', 'tms-sr', null, ': '));
      bubble.appendChild(renderText(doc, m.text, true));
      appendToLog(bubble);
      return bubble;
    }

    // ---- the professional's replies: fetched while a handoff is active ----
    var staffTimer = null, staffBusy = false, staffFailures = 0;
    function staffActive() { return !!(conv.state.staff && conv.state.staff.active); }
    function pollStaffSoon(delay) {
      if (staffTimer) clearTimeout(staffTimer);
      staffTimer = setTimeout(pollStaff, delay);
    }
    function pollStaff() {
      staffTimer = null;
      if (!staffActive() || staffBusy) return;
      staffBusy = true;
      var asked = conv.state;
      getJson(staffUpdatesUrl(cfg, conv.state.senderId, conv.state.staff.after), cfg.timeoutMs).then(function (data) {
        staffBusy = false;
        if (asked !== conv.state) return;  // the conversation was cleared meanwhile
        var result = mergeStaffUpdate(conv.state, data);
        if (!result) throw new Error('unexpected answer');
        staffFailures = 0;
        conv.save();
        showStaffUpdate(result);
        if (staffActive()) pollStaffSoon(cfg.staffPollMs);
      }).then(null, function (e) {
        staffBusy = false;
        if (asked !== conv.state) return;
        if (e && e.status === 404) {  // no staff inbox on this server: stop quietly
          conv.state.staff.active = false;
          conv.save();
          return;
        }
        staffFailures += 1;
        if (staffActive()) pollStaffSoon(staffRetryDelay(staffFailures, cfg.staffPollMs));
      });
    }
    function showStaffUpdate(result) {
      var shown = result.added.concat(result.closing ? [result.closing] : []);
      if (!shown.length) return;
      shown.forEach(function (m) { addBubble(m); });
      live.textContent = shown.map(function (m) { return m.from === 'staff' ? staffAnnouncement(m) : m.text; }).join(' ');
      if (result.added.length && panel.hidden) launcher.textContent = 'New reply from the clinic team';
      scroll();
    }

    function removeQuickReplies() {
      Array.prototype.slice.call(log.querySelectorAll('.tms-quick')).forEach(function (n) { log.removeChild(n); });
    }

    function addQuickReplies(messages) {
      messages.forEach(function (m) {
        if (!m.buttons || !m.buttons.length) return;
        var box = h('div', 'tms-quick', { role: 'group', 'aria-label': 'Suggested questions' });
        m.buttons.forEach(function (b) {
          var btn = h('button', 'tms-qr', { type: 'button' }, b.title);
          btn.addEventListener('click', function () { submit({ message: b.payload, display: b.title }); });
          box.appendChild(btn);
        });
        log.appendChild(box);
      });
    }

    function submit(item) {
      if (conv.isBusy()) return;
      conv.send(item);
    }

    function saveDraft() { conv.state.draft = input.value; conv.save(); }

    function setOpen(open, focus) {
      panel.hidden = !open;
      root.classList.toggle('tms-open', open);
      launcher.setAttribute('aria-expanded', String(open));
      launcher.textContent = open ? 'Close chat' : cfg.launcherText;
      conv.state.open = open;
      conv.save();
      if (open) {
        scroll();
        if (focus) input.focus();
        if (conv.needsGreeting() && !conv.state.unsent && cfg.initialPayload) {
          submit({ message: cfg.initialPayload, display: null, initial: true });
        }
      } else if (focus) launcher.focus();
    }

    launcher.addEventListener('click', function () { setOpen(panel.hidden, true); });
    closeBtn.addEventListener('click', function () { setOpen(false, true); });
    root.addEventListener('keydown', function (e) {
      if ((e.key !== 'Escape' && e.key !== 'Esc') || panel.hidden) return;
      e.preventDefault();
      if (!menu.hidden) closeMenu(true);  // the options first, then the panel
      else if (!confirmBox.hidden) closeConfirm(true);
      else setOpen(false, true);
    });
    proBtn.addEventListener('click', function () {
      submit({ message: cfg.professionalPayload || cfg.professionalMessage, display: cfg.professionalMessage });
    });
    input.addEventListener('input', saveDraft);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text || conv.isBusy()) return;
      input.value = '';
      saveDraft();
      submit({ message: text, display: text, typed: true });
    });
    retryBtn.addEventListener('click', function () {
      var item = conv.state.unsent;
      if (!item || conv.isBusy()) return;
      if (item.typed) {
        var text = input.value.trim() || item.display;
        input.value = '';
        saveDraft();
        // The same text is the same message (same id); an edited one is a new message.
        item = { message: text, display: text, typed: true, id: text === item.display ? item.id : undefined };
      }
      conv.retry(item);
    });

    // ---- the options: download and clear (with a confirm step) ----
    function showPrivacyControls() {
      menuBtn.hidden = !conv.owner();
      if (menuBtn.hidden) { closeMenu(false); closeConfirm(false); }
    }
    function openMenu() {
      closeConfirm(false);
      menu.hidden = false;
      menuBtn.setAttribute('aria-expanded', 'true');
      downloadBtn.focus();
    }
    function closeMenu(focus) {
      menu.hidden = true;
      menuBtn.setAttribute('aria-expanded', 'false');
      if (focus) menuBtn.focus();
    }
    function openConfirm() {
      closeMenu(false);
      confirmError.hidden = true;
      confirmBox.hidden = false;
      confirmNo.focus();  // the safe choice first
    }
    function closeConfirm(focus) {
      confirmBox.hidden = true;
      if (focus) menuBtn.focus();
    }
    menuBtn.addEventListener('click', function () { if (menu.hidden) openMenu(); else closeMenu(true); });
    clearBtn.addEventListener('click', openConfirm);
    confirmNo.addEventListener('click', function () { closeConfirm(true); });
    downloadBtn.addEventListener('click', function () {
      var owner = conv.owner();
      if (!owner) return;
      postJson(privacyUrl(cfg, 'export'), owner, cfg.timeoutMs, true).then(function (text) {
        var href = win.URL.createObjectURL(new win.Blob([text], { type: 'text/plain;charset=utf-8' }));
        var link = h('a', null, { href: href, download: downloadName(new Date()) });
        link.hidden = true;
        root.appendChild(link);
        link.click();
        root.removeChild(link);
        setTimeout(function () { win.URL.revokeObjectURL(href); }, 10000);
        live.textContent = TEXT.downloaded;
      }, function (e) {
        live.textContent = e && e.status === 404 ? TEXT.nothingToDownload : TEXT.downloadFailed;
      });
    });
    var clearing = false;
    confirmYes.addEventListener('click', function () {
      var owner = conv.owner();
      if (!owner || clearing || conv.isBusy()) return;
      clearing = true;
      confirmError.hidden = true;
      postJson(privacyUrl(cfg, 'delete'), owner, cfg.timeoutMs).then(function () {
        clearing = false;
        if (staffTimer) clearTimeout(staffTimer);
        staffTimer = null;
        Array.prototype.slice.call(log.childNodes).forEach(function (n) { if (n !== typing) log.removeChild(n); });
        error.hidden = true;
        input.value = '';
        closeConfirm(false);
        var started = conv.reset();
        showPrivacyControls();
        live.textContent = TEXT.cleared;
        notice = TEXT.cleared + ' ';
        input.focus();
        started.then(function () {
          showPrivacyControls();
          if (cfg.initialPayload) submit({ message: cfg.initialPayload, display: null, initial: true });
        });
      }, function () {
        clearing = false;
        confirmError.textContent = TEXT.clearFailed;
        confirmError.hidden = false;
      });
    });

    // Show what was said before (a reload or a new browser session), once the conversation's
    // id is settled: a conversation kept without a token starts again (see createConversation).
    function restore() {
      var history = conv.state.history, lastUser = -1;
      var noted = !conv.state.greeted;  // the greeting is the first thing the assistant said
      history.forEach(function (m, i) {
        addBubble(m);
        if (m.from === 'user') lastUser = i;
        if (!noted && m.from === 'bot') { addPrivacyNote(); noted = true; }
      });
      addQuickReplies(history.slice(lastUser + 1));
      input.value = conv.state.draft || '';
      var unsent = conv.state.unsent;
      if (unsent) {
        if (unsent.typed && !input.value) { input.value = unsent.display; saveDraft(); }
        errorText.textContent = 'Your last message was not sent. ';
        error.hidden = false;
      }
      showPrivacyControls();
      if (conv.state.open) setOpen(true, false);
      if (staffActive()) pollStaffSoon(0);  // a reload during a handoff: catch up at once
      partReady();
    }
    doc.body.appendChild(root);
    conv.identity().then(restore);

    // The crisis link: the visitor's region's from the server, else the default written into
    // this file by the server. Decided once, so the link never changes from one line to another.
    var crisisSettled = false;
    function settleCrisisLink(link) {
      if (crisisSettled) return;
      crisisSettled = true;
      link = link || crisisLinkFrom(CRISIS_LINK_DEFAULT);
      if (link) {
        crisisLink.setAttribute('href', link.href);
        crisisLink.textContent = link.text;
        crisisLink.hidden = false;
      }
      partReady();
    }
    setTimeout(function () { settleCrisisLink(null); }, CRISIS_LINK_TIMEOUT_MS);
    getJson(crisisLinkUrl(cfg), CRISIS_LINK_TIMEOUT_MS).then(crisisLinkFrom, function () { return null; })
      .then(settleCrisisLink);

    // On screen once the stylesheet, the crisis link and the conversation are there (at most 3 s).
    var css = h('link', null, { rel: 'stylesheet', href: cfg.cssUrl });
    var waiting = 3, cssSettled = false;  // stylesheet, crisis link, conversation restored
    function partReady() { if (--waiting === 0) ready(); }
    function cssReady() { if (!cssSettled) { cssSettled = true; partReady(); } }
    var done = false;
    function ready() {
      if (done) return;
      done = true;
      root.hidden = false;
      scroll();  // restored history: show the newest messages (nothing had a height before)
      api.ready = true;
      api.readyAt = win.performance ? win.performance.now() : 0;
      win.dispatchEvent(new win.CustomEvent('tms-widget-ready'));
    }
    css.addEventListener('load', cssReady);
    css.addEventListener('error', cssReady);
    setTimeout(ready, 3000);
    doc.head.appendChild(css);

    api.open = function () { setOpen(true, true); };
    api.close = function () { setOpen(false, true); };
    api.send = function (text) { submit({ message: text, display: text }); };
  }

  var api = {
    ready: false,
    readyAt: null,
    config: null,
    autoStart: function () {
      if (api.config) return;
      api.config = readConfig(script, win.TMSWidgetConfig, win.location.href);
      if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', function () { mount(api.config); });
      else mount(api.config);
    },
    _internals: {
      DEFAULTS: DEFAULTS, safeHref: safeHref, parseText: parseText, renderText: renderText,
      normalizeReplies: normalizeReplies, createStore: createStore, memoryStorage: memoryStorage,
      createConversation: createConversation, newId: newId, normalizeColor: normalizeColor,
      contrast: contrast, textColorOn: textColorOn, readConfig: readConfig,
      crisisLinkFrom: crisisLinkFrom, crisisLinkDefault: CRISIS_LINK_DEFAULT, localeOf: localeOf,
      crisisLinkUrl: crisisLinkUrl, handoffSignal: handoffSignal, startHandoff: startHandoff,
      mergeStaffUpdate: mergeStaffUpdate, staffRetryDelay: staffRetryDelay, staffUpdatesUrl: staffUpdatesUrl,
      staffLabel: staffLabel, staffAnnouncement: staffAnnouncement, downloadName: downloadName,
      answerOf: answerOf, validSession: validSession, TEXT: TEXT
    }
  };
  return api;
}));
