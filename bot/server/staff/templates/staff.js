(function () {
  "use strict";
  // Adds new messages to an open conversation without a reload. Text goes in with
  // textContent only, never as HTML.
  var list = document.getElementById("transcript");
  if (!list || !window.fetch) { return; }
  var url = list.getAttribute("data-events");
  var next = parseInt(list.getAttribute("data-next"), 10) || 0;
  var state = list.getAttribute("data-state");
  var every = parseInt(list.getAttribute("data-poll-ms"), 10) || 4000;
  var live = document.getElementById("live-status");
  var empty = document.getElementById("no-messages");
  var busy = false;
  var timer = null;

  function say(text) { if (live) { live.textContent = text; } }

  function add(message) {
    var item = document.createElement("li");
    item.className = "msg msg-" + message.author;
    var who = document.createElement("p");
    who.className = "who";
    who.textContent = message.name;
    var when = document.createElement("time");
    when.setAttribute("datetime", message.at);
    when.textContent = message.at_text;
    who.appendChild(when);
    var text = document.createElement("p");
    text.className = "text";
    text.textContent = message.text;
    item.appendChild(who);
    item.appendChild(text);
    list.appendChild(item);
  }

  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url + "?after=" + next, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          window.clearInterval(timer);
          say("You have been signed out. Reload the page to sign in again.");
          return null;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (!data) { return; }
        if (data.reset) { list.textContent = ""; }
        data.messages.forEach(add);
        next = data.next;
        if (empty && next > 0) { empty.hidden = true; }
        if (data.state !== state) {
          state = data.state;
          say("This conversation has changed: " + data.state_text + ". Reload the page to see what you can do now.");
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { busy = false; });
  }

  timer = window.setInterval(poll, every);
})();
