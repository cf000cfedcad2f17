/* Chorus chat widget: <script src="https://SERVER/widget.js" data-bot="BOT_ID" async></script>
 * Optional: data-title, data-color, data-position="left|right", data-lang (the widget's own
 * words; else the browser's language). API: ChorusWidget.open(),
 * .close(), .toggle() (and ChorusWidget[BOT_ID] when a page embeds several bots).
 * Speaks webwidget/PROTOCOL.md. Plain ES2020, no dependencies, no build step. Message
 * content is only ever put in the page as text nodes (never innerHTML). */
(() => {
  'use strict';
  const script = document.currentScript ||
    [...document.querySelectorAll('script[data-bot][src*="widget.js"]')].find((s) => !s.dataset.chorusLoaded);
  if (!script || !script.dataset.bot || script.dataset.chorusLoaded) return;
  script.dataset.chorusLoaded = '1';
  const opts = script.dataset;
  const BOT = opts.bot;
  const src = new URL(script.src, location.href);
  const ORIGIN = src.origin;
  const WS_URL = `${src.protocol === 'https:' ? 'wss' : 'ws'}://${src.host}/ws/widget/${encodeURIComponent(BOT)}`;
  const KEY = `chorus:${BOT}:`;

  // ---- the widget's own words in the visitor's language: data-lang, else the browser's
  // (pt-BR finds pt), else English; the table is JSON between its markers, and
  // tests/test_webwidget/test_labels.py holds every language to English's keys ----
  const LABELS = /* labels */{
    "en": {"close": "Close chat", "message": "Message", "placeholder": "Type a message…", "record": "Record a voice note", "stopRecording": "Stop recording and send", "send": "Send", "chat": "Chat", "chatWith": "Chat with {title}", "typing": "{title} is typing…", "waiting": "Waiting…", "source": "source {n}: {title}", "page": "p. {page}", "sources": "Sources", "choices": "Choices", "image": "Image", "download": "Download", "connecting": "Connecting…", "online": "Online", "offline": "Offline", "unavailable": "Unavailable", "disconnected": "The chat was disconnected. Reload the page to try again.", "notOnSite": "This chat isn't available on this site.", "notAvailable": "This chat isn't available.", "notSent": "Not sent", "sent": "Sent", "wrong": "Something went wrong.", "tooLarge": "That is too large to send.", "tooLong": "That message is too long ({n} characters): please keep it to {max} characters or fewer, or send it in parts.", "noMic": "The microphone is not available."},
    "es": {"close": "Cerrar el chat", "message": "Mensaje", "placeholder": "Escribe un mensaje…", "record": "Grabar una nota de voz", "stopRecording": "Detener la grabación y enviar", "send": "Enviar", "chat": "Chat", "chatWith": "Chatear con {title}", "typing": "{title} está escribiendo…", "waiting": "Enviando…", "source": "fuente {n}: {title}", "page": "p. {page}", "sources": "Fuentes", "choices": "Opciones", "image": "Imagen", "download": "Descargar", "connecting": "Conectando…", "online": "En línea", "offline": "Sin conexión", "unavailable": "No disponible", "disconnected": "Se ha cortado el chat. Recarga la página para volver a intentarlo.", "notOnSite": "Este chat no está disponible en este sitio.", "notAvailable": "Este chat no está disponible.", "notSent": "No enviado", "sent": "Enviado", "wrong": "Algo ha fallado.", "tooLarge": "Es demasiado grande para enviarlo.", "tooLong": "Ese mensaje es demasiado largo ({n} caracteres): mantenlo en {max} caracteres o menos, o envíalo en varias partes.", "noMic": "El micrófono no está disponible."},
    "pt": {"close": "Fechar o chat", "message": "Mensagem", "placeholder": "Digite uma mensagem…", "record": "Gravar um áudio", "stopRecording": "Parar a gravação e enviar", "send": "Enviar", "chat": "Chat", "chatWith": "Conversar com {title}", "typing": "{title} está digitando…", "waiting": "Enviando…", "source": "fonte {n}: {title}", "page": "p. {page}", "sources": "Fontes", "choices": "Opções", "image": "Imagem", "download": "Baixar", "connecting": "Conectando…", "online": "Online", "offline": "Offline", "unavailable": "Indisponível", "disconnected": "O chat foi desconectado. Recarregue a página para tentar de novo.", "notOnSite": "Este chat não está disponível neste site.", "notAvailable": "Este chat não está disponível.", "notSent": "Não enviada", "sent": "Enviada", "wrong": "Algo deu errado.", "tooLarge": "Isso é grande demais para enviar.", "tooLong": "Essa mensagem é longa demais ({n} caracteres): use no máximo {max} caracteres ou envie em partes.", "noMic": "O microfone não está disponível."},
    "de": {"close": "Chat schließen", "message": "Nachricht", "placeholder": "Nachricht schreiben…", "record": "Sprachnachricht aufnehmen", "stopRecording": "Aufnahme beenden und senden", "send": "Senden", "chat": "Chat", "chatWith": "Chat mit {title}", "typing": "{title} schreibt…", "waiting": "Wird gesendet…", "source": "Quelle {n}: {title}", "page": "S. {page}", "sources": "Quellen", "choices": "Auswahl", "image": "Bild", "download": "Herunterladen", "connecting": "Verbinden…", "online": "Online", "offline": "Offline", "unavailable": "Nicht verfügbar", "disconnected": "Die Verbindung zum Chat wurde getrennt. Lade die Seite neu, um es noch mal zu versuchen.", "notOnSite": "Dieser Chat ist auf dieser Website nicht verfügbar.", "notAvailable": "Dieser Chat ist nicht verfügbar.", "notSent": "Nicht gesendet", "sent": "Gesendet", "wrong": "Etwas ist schiefgelaufen.", "tooLarge": "Das ist zu groß zum Senden.", "tooLong": "Diese Nachricht ist zu lang ({n} Zeichen): Bitte bleib bei höchstens {max} Zeichen oder schick sie in Teilen.", "noMic": "Das Mikrofon ist nicht verfügbar."},
    "fr": {"close": "Fermer le chat", "message": "Message", "placeholder": "Écris un message…", "record": "Enregistrer un message vocal", "stopRecording": "Arrêter l’enregistrement et envoyer", "send": "Envoyer", "chat": "Chat", "chatWith": "Discuter avec {title}", "typing": "{title} écrit…", "waiting": "Envoi…", "source": "source {n} : {title}", "page": "p. {page}", "sources": "Sources", "choices": "Choix", "image": "Image", "download": "Télécharger", "connecting": "Connexion…", "online": "En ligne", "offline": "Hors ligne", "unavailable": "Indisponible", "disconnected": "Le chat a été déconnecté. Recharge la page pour réessayer.", "notOnSite": "Ce chat n’est pas disponible sur ce site.", "notAvailable": "Ce chat n’est pas disponible.", "notSent": "Non envoyé", "sent": "Envoyé", "wrong": "Un problème est survenu.", "tooLarge": "C’est trop volumineux pour être envoyé.", "tooLong": "Ce message est trop long ({n} caractères) : limite-toi à {max} caractères ou envoie-le en plusieurs parties.", "noMic": "Le micro n’est pas disponible."},
    "ru": {"close": "Закрыть чат", "message": "Сообщение", "placeholder": "Напиши сообщение…", "record": "Записать голосовое сообщение", "stopRecording": "Остановить запись и отправить", "send": "Отправить", "chat": "Чат", "chatWith": "Чат с {title}", "typing": "{title} печатает…", "waiting": "Отправляется…", "source": "источник {n}: {title}", "page": "с. {page}", "sources": "Источники", "choices": "Варианты", "image": "Изображение", "download": "Скачать", "connecting": "Подключение…", "online": "В сети", "offline": "Не в сети", "unavailable": "Недоступен", "disconnected": "Чат отключился. Перезагрузи страницу, чтобы попробовать снова.", "notOnSite": "Этот чат недоступен на этом сайте.", "notAvailable": "Этот чат недоступен.", "notSent": "Не отправлено", "sent": "Отправлено", "wrong": "Что-то пошло не так.", "tooLarge": "Это слишком много, чтобы отправить.", "tooLong": "Сообщение слишком длинное ({n} символов): уложись в {max} символов или отправь его по частям.", "noMic": "Микрофон недоступен."},
    "uk": {"close": "Закрити чат", "message": "Повідомлення", "placeholder": "Напиши повідомлення…", "record": "Записати голосове повідомлення", "stopRecording": "Зупинити запис і надіслати", "send": "Надіслати", "chat": "Чат", "chatWith": "Чат із {title}", "typing": "{title} друкує…", "waiting": "Надсилається…", "source": "джерело {n}: {title}", "page": "с. {page}", "sources": "Джерела", "choices": "Варіанти", "image": "Зображення", "download": "Завантажити", "connecting": "Підключення…", "online": "У мережі", "offline": "Не в мережі", "unavailable": "Недоступний", "disconnected": "Чат відключився. Перезавантаж сторінку, щоб спробувати знову.", "notOnSite": "Цей чат недоступний на цьому сайті.", "notAvailable": "Цей чат недоступний.", "notSent": "Не надіслано", "sent": "Надіслано", "wrong": "Щось пішло не так.", "tooLarge": "Це завелике, щоб надіслати.", "tooLong": "Повідомлення задовге ({n} символів): вкладися в {max} символів або надішли його частинами.", "noMic": "Мікрофон недоступний."},
    "tr": {"close": "Sohbeti kapat", "message": "Mesaj", "placeholder": "Bir mesaj yaz…", "record": "Sesli mesaj kaydet", "stopRecording": "Kaydı durdur ve gönder", "send": "Gönder", "chat": "Sohbet", "chatWith": "{title} ile sohbet", "typing": "{title} yazıyor…", "waiting": "Gönderiliyor…", "source": "kaynak {n}: {title}", "page": "s. {page}", "sources": "Kaynaklar", "choices": "Seçenekler", "image": "Görsel", "download": "İndir", "connecting": "Bağlanıyor…", "online": "Çevrimiçi", "offline": "Çevrimdışı", "unavailable": "Kullanılamıyor", "disconnected": "Sohbetin bağlantısı kesildi. Tekrar denemek için sayfayı yenile.", "notOnSite": "Bu sohbet bu sitede kullanılamıyor.", "notAvailable": "Bu sohbet kullanılamıyor.", "notSent": "Gönderilmedi", "sent": "Gönderildi", "wrong": "Bir şeyler ters gitti.", "tooLarge": "Bu, gönderilemeyecek kadar büyük.", "tooLong": "Bu mesaj çok uzun ({n} karakter): lütfen en fazla {max} karakter kullan ya da parça parça gönder.", "noMic": "Mikrofon kullanılamıyor."}
  }/* /labels */;
  const LANG = [opts.lang, navigator.language, ...(navigator.languages || [])]
    .map((tag) => String(tag || '').toLowerCase())
    .map((tag) => (LABELS[tag] ? tag : tag.split('-')[0]))
    .find((tag) => LABELS[tag]) || 'en';
  const t = (key, vars = {}) => (LABELS[LANG][key] || LABELS.en[key])
    .replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  const num = (n) => n.toLocaleString(LANG);
  const attr = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

  // ---- storage: the session token and the frames not yet acknowledged ----
  const lsGet = (k) => { try { return localStorage.getItem(KEY + k); } catch { return null; } };
  const lsSet = (k, v) => {
    try { v == null ? localStorage.removeItem(KEY + k) : localStorage.setItem(KEY + k, v); return true; } catch { return false; }
  };
  let memQ = null; // the queue, when localStorage refuses it (blocked, or over quota)
  const loadQ = () => { if (memQ) return memQ; try { return JSON.parse(lsGet('queue')) || []; } catch { return []; } };
  const saveQ = (q) => { memQ = lsSet('queue', q.length ? JSON.stringify(q) : null) ? null : q; };
  const unqueue = (id) => { saveQ(loadQ().filter((q) => q.id !== id)); sent.delete(id); };
  const uid = () => 'c-' + (crypto.randomUUID ? crypto.randomUUID()
    : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

  // ---- DOM helpers ----
  const h = (tag, attrs, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    el.append(...kids.filter((kid) => kid != null && kid !== false));
    return el;
  };
  const safeUrl = (url, base, mail) => {
    try {
      const u = base ? new URL(url, base) : new URL(url);
      return (mail ? /^(https?|mailto):$/ : /^https?:$/).test(u.protocol) ? u.href : null;
    } catch { return null; }
  };

  // ---- a safe markdown subset, built as DOM nodes ----
  const INLINE = /\*\*(.+?)\*\*|\*(?![\s*])(.+?)\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\[(\d+)\]/g;
  const inline = (text, cite) => {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      out.push(text.slice(last, m.index));
      last = m.index + m[0].length;
      let href;
      if (m[1] != null) out.push(h('strong', 0, ...inline(m[1], cite)));
      else if (m[2] != null) out.push(h('em', 0, ...inline(m[2], cite)));
      else if (m[3] != null) out.push(h('code', 0, m[3]));
      else if (m[4] != null && (href = safeUrl(m[5], null, true))) {
        out.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, m[4]));
      } else if (m[6] && (href = cite(+m[6]))) {
        out.push(out.pop().trimEnd(), href); // a footnote mark hugs the word before it
      } else out.push(m[0]);
    }
    out.push(text.slice(last));
    return out;
  };
  const markdown = (text, cite = () => null) => {
    const frag = document.createDocumentFragment();
    let para = null, list = null;
    for (const line of String(text).split('\n')) {
      const item = /^\s*(?:[-*•]|(\d+)[.)])\s+(.*)$/.exec(line);
      if (item) {
        const tag = item[1] ? 'OL' : 'UL';
        if (!list || list.tagName !== tag) frag.append(list = h(tag, { start: item[1] > 1 && item[1] }));
        list.append(h('li', 0, ...inline(item[2], cite)));
        para = null;
      } else if (!line.trim()) {
        para = list = null;
      } else {
        if (para) para.append(h('br'));
        else frag.append(para = h('p')), list = null;
        para.append(...inline(line, cite));
      }
    }
    return frag;
  };

  // ---- the shell (a constant template: no message content ever goes through innerHTML) ----
  const ICON = (d, w = 22) => `<svg width="${w}" height="${w}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${d}</svg>`;
  const CLOSE = ICON('<path d="M18 6 6 18M6 6l12 12"/>', 20);
  const host = document.createElement('chorus-widget');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>
:host{all:initial!important;display:block!important}
*{box-sizing:border-box}
.w{--c:#4f46e5;--fg:#fff;--ink:color-mix(in srgb,var(--c) 72%,#000);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2330}
.launch,.panel{position:fixed;right:20px;z-index:2147483000}
.left .launch,.left .panel{right:auto;left:20px}
.launch{bottom:20px;width:60px;height:60px;border-radius:50%;border:0;background:var(--c);color:var(--fg);box-shadow:0 6px 20px #0004;cursor:pointer;display:grid;place-items:center;transition:transform .15s}
.launch:hover{transform:scale(1.06)}
.launch .i2,.open .launch .i1{display:none}.open .launch .i2{display:block}
.panel{bottom:92px;width:380px;height:min(620px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;border-radius:16px;box-shadow:0 12px 48px #0003;overflow:hidden}
.panel[hidden]{display:none}
header{display:flex;align-items:center;gap:10px;padding:12px 12px 12px 16px;background:var(--c);color:var(--fg)}
.av{width:38px;height:38px;border-radius:50%;background:#fff3;display:grid;place-items:center;font-weight:700;flex:none;overflow:hidden}
.av img{width:100%;height:100%;object-fit:cover}
h2{margin:0;font-size:16px;font-weight:600;line-height:1.2}
.st{margin:2px 0 0;font-size:12px;display:flex;align-items:center;gap:6px;opacity:.92}
.st i{width:8px;height:8px;border-radius:50%;background:#fbbf24;box-shadow:0 0 0 2px #fff6}
.st.online i{background:#22c55e}.st.offline i,.st.unavailable i{background:#9ca3af}
.ib{width:40px;height:40px;border-radius:50%;border:0;display:grid;place-items:center;cursor:pointer;flex:none;background:#eef0f5;color:#374151}
.x{margin-left:auto;background:none;color:inherit}.x:hover{background:#fff2}
.log{flex:1;overflow-y:auto;padding:16px 14px;display:flex;flex-direction:column;gap:10px;background:#f5f6fa}
.msg{max-width:86%;padding:9px 13px;border-radius:16px;background:#fff;box-shadow:0 1px 2px #0000001a;overflow-wrap:anywhere;align-self:flex-start;border-bottom-left-radius:5px}
.me{align-self:flex-end;background:var(--c);color:var(--fg);white-space:pre-wrap;border-radius:16px 16px 5px}
.pending{opacity:.75}.failed{opacity:.55}.wait{display:block;font-size:11px;opacity:.85;text-align:right}
p{margin:0 0 .55em}p:last-child{margin:0}
ul,ol{margin:.35em 0;padding-left:1.35em}li+li{margin-top:.2em}
code{font:13px ui-monospace,Menlo,Consolas,monospace;background:#eef0f5;padding:1px 4px;border-radius:4px}
a{color:var(--ink)}
sup{line-height:0;font-size:.72em}sup a{text-decoration:none;font-weight:700;padding:0 1px}
.sh{margin:8px 0 2px;padding-top:6px;border-top:1px solid #eceef3;font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:#6b7280}
.src{margin:0;font-size:12.5px;color:#4b5563;padding-left:1.5em}.src li:focus{background:#fef9c3;outline:0}
.btns{display:flex;flex-wrap:wrap;gap:6px;margin-top:9px}
.btns a.link{display:inline-block;border:1.5px solid var(--c);color:var(--fg);background:var(--c);border-radius:999px;padding:5px 12px;font-size:13.5px;text-decoration:none}
.btns button{border:1.5px solid var(--c);color:var(--ink);background:#fff;border-radius:999px;padding:5px 12px;font:inherit;font-size:13.5px;cursor:pointer}
.btns button:hover:not(:disabled){background:var(--c);color:var(--fg)}
.btns button:disabled{opacity:.45;cursor:default}
audio{display:block;width:100%;min-width:220px;height:40px;margin-top:8px}
.doc{display:inline-block;margin-top:8px;font-weight:600}
.pic{display:block;max-width:100%;height:auto;margin-top:8px;border-radius:8px}
.typing{padding:2px 16px 6px;font-size:12.5px;color:#6b7280;background:#f5f6fa}
.typing[hidden],.note:empty,.gone:empty{display:none}
.dots i{display:inline-block;width:6px;height:6px;margin-right:3px;border-radius:50%;background:#9ca3af;animation:b 1.2s infinite}
.dots i:nth-child(2){animation-delay:.2s}.dots i:nth-child(3){animation-delay:.4s}
@keyframes b{0%,80%,100%{opacity:.25}40%{opacity:1}}
.note,.gone{padding:6px 16px;font-size:12.5px;color:#b42318;background:#fef3f2}
form{display:flex;align-items:flex-end;gap:6px;margin:0;padding:10px;border-top:1px solid #e5e7eb;background:#fff}
textarea{flex:1;resize:none;border:1px solid #d1d5db;border-radius:20px;padding:9px 14px;font:inherit;line-height:1.4;height:40px;max-height:130px;color:inherit;background:#fff;margin:0}
.send{background:var(--c);color:var(--fg)}
form :disabled{opacity:.45;cursor:default}
.count{align-self:center;font-size:11.5px;color:#6b7280;white-space:nowrap}.count.over{color:#b42318;font-weight:600}.count:empty{display:none}
.mic[aria-pressed=true]{background:#dc2626;color:#fff;animation:b 1.2s infinite}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
:focus-visible{outline:2px solid transparent;box-shadow:0 0 0 2px #fff,0 0 0 4px #1d4ed8}
textarea:focus-visible{border-color:#1d4ed8}
@media (max-width:600px){.panel,.left .panel{inset:0;width:auto;height:auto;border-radius:0}.open .launch{display:none}textarea{font-size:16px}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
</style><div class="w"><button class="launch" type="button" aria-expanded="false" aria-controls="panel">${ICON('<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/>', 28).replace('svg', 'svg class="i1"')}${CLOSE.replace('svg', 'svg class="i2"')}</button>
<div class="panel" id="panel" role="dialog" hidden><header><span class="av" aria-hidden="true"></span><div><h2></h2><p class="st"><i></i><span></span></p></div><button class="ib x" type="button" aria-label="${attr(t('close'))}">${CLOSE}</button></header>
<div class="log" role="log" aria-live="polite" tabindex="0"></div>
<div class="typing" hidden><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span> <span></span></div>
<div class="note" role="status"></div><div class="gone" role="alert"></div>
<form><textarea rows="1" aria-label="${attr(t('message'))}" placeholder="${attr(t('placeholder'))}"></textarea><span class="count"></span><button class="ib mic" type="button" aria-pressed="false" aria-label="${attr(t('record'))}" hidden>${ICON('<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>', 20)}</button><button class="ib send" type="submit" aria-label="${attr(t('send'))}">${ICON('<path d="M5 12h14M13 6l6 6-6 6"/>', 20)}</button></form></div></div>`;
  const $ = (sel) => root.querySelector(sel);
  const w = $('.w'), launcher = $('.launch'), panel = $('.panel'), log = $('.log'), form = $('form');
  const input = $('textarea'), mic = $('.mic'), stateEl = $('.st'), typingEl = $('.typing'), noteEl = $('.note');
  const goneEl = $('.gone');
  const countEl = $('.count');

  let title = t('chat'), greeting = null;
  const theme = (bot = {}) => {
    title = opts.title || bot.title || bot.name || title;
    $('h2').textContent = title;
    panel.setAttribute('aria-label', t('chatWith', { title }));
    launcher.setAttribute('aria-label', t('chatWith', { title }));
    typingEl.lastChild.textContent = t('typing', { title });
    const color = opts.color || bot.color;
    if (color) {
      w.style.setProperty('--c', color);
      const hex = /^#([\da-f]{3}|[\da-f]{6})$/i.exec(color.trim());
      if (hex) {
        const n = hex[1].length === 3 ? [...hex[1]].map((c) => parseInt(c + c, 16)) : hex[1].match(/../g).map((c) => parseInt(c, 16));
        const light = n[0] * 0.299 + n[1] * 0.587 + n[2] * 0.114 > 170;
        w.style.setProperty('--fg', light ? '#111827' : '#fff');
        w.style.setProperty('--ink', `color-mix(in srgb,var(--c) ${light ? 42 : 72}%,#000)`);
      }
    }
    w.classList.toggle('left', (opts.position || bot.position) === 'left');
    const av = $('.av'), pic = bot.avatar && safeUrl(bot.avatar, ORIGIN);
    av.replaceChildren(pic ? h('img', { src: pic, alt: '' }) : title.trim().charAt(0).toUpperCase());
    if (bot.greeting && greeting !== false) {
      greeting ||= log.insertBefore(h('div', { class: 'msg bot greet' }), log.firstChild);
      greeting.raw = bot.greeting;
      greeting.replaceChildren(markdown(bot.greeting));
    }
  };

  // ---- the conversation ----
  const pending = new Map(); // client id -> the visitor's bubble shown before the server has it
  const streams = new Map(); // reply_to -> bubble growing from delta frames
  let counter = 0;
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  const scroll = () => { log.scrollTop = log.scrollHeight; };
  const add = (el, atEnd) => {
    const stick = atEnd || nearBottom();
    log.insertBefore(el, atEnd ? null : log.querySelector('.pending')); // pending bubbles stay last
    if (stick) scroll();
  };
  let noteT;
  const note = (text) => {
    noteEl.textContent = text || '';
    clearTimeout(noteT);
    noteT = setTimeout(() => { noteEl.textContent = ''; }, 6000);
  };
  let typingT;
  const typing = (on, text) => {
    typingEl.hidden = !on;
    typingEl.lastChild.textContent = text || t('typing', { title });
    clearTimeout(typingT);
    if (on) typingT = setTimeout(() => { typingEl.hidden = true; }, 60000);
  };

  const userBubble = (text, id) => {
    const el = h('div', { class: 'msg me' }, text);
    if (id) {
      el.classList.add('pending');
      el.append(h('span', { class: 'wait' }, t('waiting')));
      pending.set(id, el);
    }
    return el;
  };
  const botBubble = (m) => {
    const id = `m${++counter}`;
    const sources = Array.isArray(m.sources) ? m.sources : [];
    const cite = (n) => {
      const s = sources.find((x) => x.number === n);
      return s && h('sup', 0, h('a', {
        href: `#${id}-${n}`,
        'aria-label': t('source', { n, title: s.title }),
        onclick: (e) => {
          e.preventDefault();
          const li = root.getElementById(`${id}-${n}`);
          li.scrollIntoView({ block: 'nearest' });
          li.focus();
        },
      }, String(n)));
    };
    const el = h('div', { class: 'msg bot' }, h('div', 0, markdown(m.text || '', cite)));
    if (sources.length) {
      el.append(h('p', { class: 'sh', id: `${id}-h` }, t('sources')), h('ol', { class: 'src', 'aria-labelledby': `${id}-h` },
        ...sources.map((s) => {
          const where = [s.page != null && t('page', { page: s.page }), s.section].filter(Boolean).join(', ');
          const url = s.url && safeUrl(s.url);
          return h('li', { id: `${id}-${s.number}`, value: s.number, tabindex: -1 },
            url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer nofollow' }, s.title) : s.title,
            where && ` — ${where}`);
        })));
    }
    if (Array.isArray(m.buttons) && m.buttons.length) {
      const group = h('div', { class: 'btns', role: 'group', 'aria-label': t('choices') }, ...m.buttons.map((b) => (b.url
        ? h('a', { class: 'link', href: safeUrl(b.url) || '#', target: '_blank', rel: 'noopener noreferrer' }, b.label)
        : h('button', {
          type: 'button',
          onclick: () => {
            group.querySelectorAll('button').forEach((x) => { x.disabled = true; });
            sendUser({ type: 'button', payload: b.payload, label: b.label }, b.label);
          },
        }, b.label))));
      el.append(group);
    }
    const audio = m.audio && safeUrl(m.audio.url, ORIGIN);
    if (audio) el.append(h('audio', { controls: true, preload: 'metadata', src: audio }));
    const pic = m.image && safeUrl(m.image.url, ORIGIN);
    if (pic) el.append(h('img', { class: 'pic', src: pic, alt: m.text || t('image'), loading: 'lazy' }));
    const doc = m.document && safeUrl(m.document.url, ORIGIN);
    if (doc) el.append(h('a', { class: 'doc', href: doc, download: m.document.filename || '', target: '_blank', rel: 'noopener' }, `⬇ ${m.document.filename || t('download')}`));
    return el;
  };

  const onSaid = (f) => {
    const mine = pending.get(f.id);
    if (mine) { mine.remove(); pending.delete(f.id); }
    // the conversation moved on: earlier choices no longer apply
    log.querySelectorAll('.btns button').forEach((b) => { b.disabled = true; });
    add(userBubble(f.text || ''));
  };
  const onReply = (f) => {
    typing(false);
    const m = f.message || {};
    const el = botBubble(m);
    const grown = streams.get(f.reply_to);
    streams.delete(f.reply_to);
    // the conversation's own greeting (stored, with its choices) takes the place of the
    // copy shown while it came: one greeting, first
    const copy = greeting && String(m.text).trim() === greeting.raw.trim() && greeting;
    if (copy) greeting = false;
    if (copy || grown) {
      const stick = nearBottom();
      (copy || grown).replaceWith(el);
      if (copy && grown) grown.remove();
      if (stick) scroll();
    } else add(el);
  };
  const onDelta = (f) => {
    let el = streams.get(f.reply_to);
    if (!el) {
      // hidden from screen readers while it grows: the final reply is announced once
      el = h('div', { class: 'msg bot', 'aria-hidden': 'true' });
      el.raw = '';
      streams.set(f.reply_to, el);
      add(el);
    }
    typing(false);
    const stick = nearBottom();
    el.raw += f.text || '';
    el.replaceChildren(markdown(el.raw, (n) => h('sup', 0, String(n))));
    if (stick) scroll();
  };

  // ---- the socket ----
  let ws = null, ready = false, attempt = 0, lastSeq = 0, visitor = null, stopped = false;
  let fresh = false, begin = false; // a welcome answering our hello; a conversation to start
  let retryT, idleT, pongT, flushT;
  const limits = { max_text: 4000, max_frame: 1048576, rate: 2, burst: 20 };
  const sent = new Set(); // ids sent on this connection and not yet acknowledged
  let tokens = 0, stamp = 0;
  const setState = (s) => {
    stateEl.className = `st ${s}`;
    stateEl.lastChild.textContent = t(s);
  };
  // Sends the queue in order, pacing itself with a copy of the server's token bucket, so a
  // fast typist is slowed down here rather than refused (and reordered) there.
  const pump = () => {
    clearTimeout(flushT);
    if (!ready || !ws || ws.readyState !== 1) return;
    const rate = limits.rate || 2;
    for (const f of loadQ()) {
      if (sent.has(f.id)) continue;
      const now = Date.now();
      tokens = Math.min(limits.burst - 1, tokens + ((now - stamp) / 1000) * rate);
      stamp = now;
      if (tokens < 1) {
        flushT = setTimeout(pump, ((1 - tokens) / rate) * 1000);
        return;
      }
      tokens -= 1;
      sent.add(f.id);
      ws.send(JSON.stringify(f));
    }
  };
  const later = (seconds) => { // send every unacknowledged frame again, in `seconds`
    sent.clear();
    tokens = -seconds * (limits.rate || 2);
    stamp = Date.now();
    pump();
  };
  const alive = () => {
    clearTimeout(idleT);
    clearTimeout(pongT);
    idleT = setTimeout(() => {
      if (ws && ws.readyState === 1) ws.send('{"type":"ping"}');
      pongT = setTimeout(drop, 10000);
    }, 25000);
  };
  // Closes the server means for good (PROTOCOL.md): trying again would not help.
  const REFUSED = {
    1008: t('disconnected'),
    4403: t('notOnSite'),
    4404: t('notAvailable'),
  };
  const refused = (text) => {
    stopped = true;
    setState('unavailable');
    goneEl.textContent = text;
    for (const el of [input, mic, $('.send')]) el.disabled = true;
    input.placeholder = '';
    pending.forEach((el) => { el.lastChild.textContent = t('notSent'); });
  };
  const closed = (code) => {
    ready = false;
    clearTimeout(idleT);
    clearTimeout(pongT);
    typing(false);
    setState('offline');
    if (REFUSED[code]) return refused(REFUSED[code]);
    clearTimeout(retryT);
    retryT = setTimeout(connect, Math.random() * Math.min(30000, 500 * 2 ** attempt++));
  };
  const drop = () => {
    const sock = ws;
    ws = null;
    if (sock) {
      sock.onclose = sock.onmessage = null;
      try { sock.close(); } catch { /* already closed */ }
    }
    if (!stopped) closed(1006);
  };
  function connect() {
    clearTimeout(retryT);
    if (ws || stopped) return;
    setState('connecting');
    const sock = ws = new WebSocket(WS_URL);
    sock.onopen = () => {
      const hello = { type: 'hello', last_seq: lastSeq };
      try { // the visitor's time zone, so scheduled messages come at their own hour
        const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
        if (zone) hello.timezone = zone;
      } catch (e) { /* an old browser: the creator's default zone applies */ }
      // the browser's language (a BCP 47 tag such as pt-BR), so the bot speaks it
      if (typeof navigator.language === 'string' && navigator.language) {
        hello.language = navigator.language.slice(0, 35);
      }
      const session = lsGet('session');
      if (session) hello.session = session;
      sock.send(JSON.stringify(hello));
      fresh = true;
      alive();
    };
    sock.onmessage = (e) => {
      alive();
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f && typeof f === 'object') receive(f);
    };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null;
      closed(e.code);
    };
  }
  // A conversation not begun opens, once the widget does, with the bot's greeting and its
  // choices (as /start does on other channels): stored by the server, so shown once.
  const start = () => {
    if (!begin || !ready || (panel.hidden && !loadQ().length)) return;
    begin = false;
    tokens -= 1;
    ws.send('{"type":"start"}');
  };
  const receive = (f) => {
    if (typeof f.seq === 'number' && f.type !== 'welcome') {
      if (f.seq <= lastSeq) return; // already shown: a replay after a reconnect
      lastSeq = f.seq;
    }
    switch (f.type) {
      case 'welcome':
        if ((visitor && f.visitor !== visitor) || f.seq < lastSeq) {
          // a new visitor (the old session was refused): the old transcript is not theirs
          log.querySelectorAll('.msg:not(.greet,.pending)').forEach((el) => el.remove());
          streams.clear();
          lastSeq = f.seq || 0;
          if (greeting === false) greeting = null; // the copy comes back until the greeting does
        }
        begin = fresh && !f.seq; // after a /forget (not our hello) nobody is greeted anew
        fresh = false;
        visitor = f.visitor;
        if (f.session) lsSet('session', f.session);
        Object.assign(limits, f.limits);
        count();
        theme(f.bot || {});
        attempt = 0;
        ready = true;
        setState('online');
        sent.clear();
        tokens = limits.burst - 1; // the hello took one
        stamp = Date.now();
        start();
        pump();
        break;
      case 'ack': {
        unqueue(f.id);
        const el = pending.get(f.id);
        if (el) el.lastChild.textContent = t('sent');
        break;
      }
      case 'said': onSaid(f); break;
      case 'reply': onReply(f); break;
      case 'delta': onDelta(f); break;
      case 'typing': typing(!!f.on); break;
      case 'progress': typing(true, f.text); break;
      case 'error':
        if (f.code === 'rate_limited') later(f.retry_after || 1);
        else if (f.code === 'unavailable') later(5);
        else if (f.code === 'session_invalid' || f.code === 'session_expired') lsSet('session', null);
        else if (f.id) {
          // refused for good (too long, malformed): sending it again would not help
          unqueue(f.id);
          const el = pending.get(f.id);
          if (el) { el.classList.replace('pending', 'failed'); el.lastChild.textContent = t('notSent'); }
          pending.delete(f.id);
        }
        note(f.message || t('wrong'));
        break;
      default: // pong, and types added later
    }
  };

  // ---- the visitor speaks ----
  function sendUser(frame, shown) {
    const f = { id: uid(), ...frame };
    if (JSON.stringify(f).length > limits.max_frame) return note(t('tooLarge'));
    saveQ([...loadQ(), f]);
    add(userBubble(shown, f.id), true);
    pump();
  }
  const grow = () => {
    input.style.height = '';
    input.style.height = `${Math.min(input.scrollHeight + 2, 130)}px`;
  };
  // Characters as the server counts them (code points), shown as the limit comes near; a
  // longer message is refused with the server's own words and stays in the box to shorten.
  const length = (text) => [...text].length;
  const count = () => {
    const n = length(input.value.trim()), max = limits.max_text;
    countEl.textContent = n > max * 0.9 ? `${num(n)} / ${num(max)}` : '';
    countEl.classList.toggle('over', n > max);
  };
  const submit = () => {
    const text = input.value.trim();
    if (!text) return;
    const n = length(text);
    if (n > limits.max_text) {
      return note(t('tooLong', { n: num(n), max: num(limits.max_text) }));
    }
    sendUser({ type: 'message', text }, text);
    input.value = '';
    grow();
    count();
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  input.addEventListener('input', () => { grow(); count(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });

  let recorder = null;
  if (window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    mic.hidden = false;
    const recording = (on) => {
      mic.setAttribute('aria-pressed', on);
      mic.setAttribute('aria-label', on ? t('stopRecording') : t('record'));
    };
    mic.addEventListener('click', async () => {
      if (recorder) return recorder.state !== 'inactive' && recorder.stop();
      let stream;
      try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch { return note(t('noMic')); }
      const mime = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'].find((t) => MediaRecorder.isTypeSupported(t));
      const rec = recorder = new MediaRecorder(stream, mime ? { mimeType: mime } : undefined);
      const chunks = [];
      const cap = setTimeout(() => rec.state !== 'inactive' && rec.stop(), 300000);
      rec.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
      rec.onstop = () => {
        clearTimeout(cap);
        stream.getTracks().forEach((t) => t.stop());
        recorder = null;
        recording(false);
        const blob = new Blob(chunks, { type: rec.mimeType || mime || 'audio/webm' });
        if (!blob.size) return;
        const reader = new FileReader();
        reader.onload = () => sendUser({ type: 'voice', mime: blob.type, data: String(reader.result).split(',')[1] }, '🎙 Voice note');
        reader.readAsDataURL(blob);
      };
      rec.start();
      recording(true);
    });
  }

  // ---- open, close ----
  const open = () => {
    if (!panel.hidden) return;
    panel.hidden = false;
    w.classList.add('open');
    launcher.setAttribute('aria-expanded', 'true');
    scroll();
    input.focus();
    start();
    if (stopped) { // say it again: a message in a hidden panel was not read out
      const text = goneEl.textContent;
      goneEl.textContent = '';
      setTimeout(() => { goneEl.textContent = text; }, 100);
    }
  };
  const close = () => {
    if (panel.hidden) return;
    const inside = !!root.activeElement;
    panel.hidden = true;
    w.classList.remove('open');
    launcher.setAttribute('aria-expanded', 'false');
    if (inside) launcher.focus();
  };
  const toggle = () => (panel.hidden ? open() : close());
  launcher.addEventListener('click', toggle);
  $('.x').addEventListener('click', close);
  w.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !panel.hidden) { e.stopPropagation(); close(); }
  });
  const api = { open, close, toggle };
  const global = (window.ChorusWidget ||= {});
  global[BOT] = api;
  if (!global.open) Object.assign(global, api);

  theme();
  setState('connecting');
  for (const f of loadQ()) add(userBubble(f.text || f.label || '🎙 Voice note', f.id), true);
  addEventListener('online', () => { attempt = 0; connect(); });
  addEventListener('offline', drop);
  connect();
  const mount = () => document.body.append(host);
  document.body ? mount() : addEventListener('DOMContentLoaded', mount);
})();
