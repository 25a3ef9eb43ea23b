// ferry.js: Ferry's web view. Plain JavaScript, no library, no build step:
// the page must work on an air-gapped management network. It reads the
// /v1 resources with the operator's bearer token and follows /v1/events
// (Server-Sent Events, read through fetch so the token goes in the
// Authorization header and never in a URL). Every string a host may have
// chosen (VM names, messages) goes into the page as text, never as markup.
"use strict";

(function () {
	const TOKEN_KEY = "ferry-token";
	const POLL_MS = 2000;
	const state = {
		token: null,
		hosts: [],
		vms: [],
		jobs: [],
		progress: new Map(),	// job id -> its last progress event
		drains: new Map(),	// drain id -> its last DrainInfo
		downtime: new Map(),	// job id -> downtime_ms (null: unknown)
		lastEventId: "0",
		sse: null,
	};

	// ---- small helpers --------------------------------------------------

	function $(id) { return document.getElementById(id); }

	// el("td", {class: "x"}, "text", child, ...): text children are text.
	function el(tag, attrs, ...kids) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k === "class")
				e.className = v;
			else if (k.startsWith("on"))
				e.addEventListener(k.slice(2), v);
			else
				e.setAttribute(k, v === true ? "" : String(v));
		}
		for (const k of kids) {
			if (k === null || k === undefined)
				continue;
			e.append(k instanceof Node ? k : document.createTextNode(String(k)));
		}
		return e;
	}

	function badge(s) { return el("span", {class: "badge " + s}, s); }

	function mib(v) {
		if (v === null || v === undefined)
			return "-";
		return v >= 1024 ? (v / 1024).toFixed(1) + " GiB" : Math.round(v) + " MiB";
	}

	function fmtTime(ms) {
		if (!ms)
			return "-";
		const d = new Date(ms);
		const p = (n) => String(n).padStart(2, "0");
		return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) +
		    " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
	}

	function fmtDur(ms) {
		if (ms === null || ms === undefined || ms < 0)
			return "-";
		if (ms < 60000)
			return (ms / 1000).toFixed(1) + " s";
		const s = Math.round(ms / 1000);
		return Math.floor(s / 60) + " min " + (s % 60) + " s";
	}

	function showError(msg) {
		const e = $("error");
		e.textContent = msg;
		e.classList.toggle("hidden", !msg);
	}

	// ---- the token: session storage, or the URL fragment -----------------

	function takeToken() {
		const m = /^#token=([^&]+)/.exec(location.hash);
		if (m) {
			sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
			// Out of the address bar and the history: the fragment never
			// went to the server, and now it stays nowhere else either.
			history.replaceState(null, "", location.pathname + location.search);
		}
		state.token = sessionStorage.getItem(TOKEN_KEY);
		$("token-form").classList.toggle("hidden", !!state.token);
		$("token-forget").classList.toggle("hidden", !state.token);
	}

	// ---- the API ---------------------------------------------------------

	async function api(method, path, body) {
		const opts = {method: method, headers: {}, cache: "no-store"};
		if (state.token)
			opts.headers["Authorization"] = "Bearer " + state.token;
		if (body !== undefined) {
			opts.headers["Content-Type"] = "application/json";
			opts.body = JSON.stringify(body);
		}
		const r = await fetch(path, opts);
		let data = null;
		try { data = await r.json(); } catch (e) { data = null; }
		if (!r.ok) {
			const msg = data && data.error ?
			    (data.error.message || data.error) : r.status + " " + r.statusText;
			const err = new Error(r.status === 401 ? "token refused: " + msg :
			    r.status === 403 ? "this token may only read: " + msg : msg);
			err.status = r.status;
			throw err;
		}
		return data;
	}

	async function refresh() {
		if (!state.token)
			return;
		try {
			const [hosts, vms, jobs] = await Promise.all([
			    api("GET", "/v1/hosts"), api("GET", "/v1/vms"),
			    api("GET", "/v1/jobs")]);
			state.hosts = hosts || [];
			state.vms = vms || [];
			state.jobs = jobs || [];
			setConn(true);
			showError("");
			await fetchDowntimes();
			render();
		} catch (e) {
			setConn(false);
			showError(e.message);
			if (e.status === 401) {
				$("token-form").classList.remove("hidden");
			}
		}
	}

	function setConn(up) {
		const c = $("conn");
		c.textContent = up ? "connected" : "not connected";
		c.className = "badge " + (up ? "up" : "down");
	}

	// A finished migration's downtime is in its record's last state event
	// (final figures from the destination's libvirt); asked once per job.
	async function fetchDowntimes() {
		const done = state.jobs.filter((j) => j.kind === "migrate" &&
		    j.ended_ms && !state.downtime.has(j.id)).slice(-20);
		for (const j of done) {
			try {
				const r = await api("GET", "/v1/jobs/" + j.id);
				let dt = null;
				for (const h of (r && r.history) || []) {
					let d = h.data;
					if (typeof d === "string") {
						try { d = JSON.parse(d); } catch (e) { d = null; }
					}
					if (d && typeof d === "object" && "downtime_ms" in d)
						dt = d.downtime_ms;
				}
				state.downtime.set(j.id, dt);
			} catch (e) {
				state.downtime.set(j.id, null);
			}
		}
	}

	// ---- the event stream (SSE over fetch) -------------------------------

	async function follow() {
		if (!state.token || state.sse)
			return;
		const ctl = new AbortController();
		state.sse = ctl;
		try {
			const r = await fetch("/v1/events", {cache: "no-store",
			    signal: ctl.signal, headers: {
				"Authorization": "Bearer " + state.token,
				"Accept": "text/event-stream",
				"Last-Event-ID": state.lastEventId}});
			if (!r.ok || !r.body)
				throw new Error("events: " + r.status);
			const rd = r.body.getReader();
			const dec = new TextDecoder();
			let buf = "";
			for (;;) {
				const {value, done} = await rd.read();
				if (done)
					break;
				buf += dec.decode(value, {stream: true});
				let i;
				while ((i = buf.indexOf("\n\n")) >= 0) {
					onEvent(buf.slice(0, i));
					buf = buf.slice(i + 2);
				}
			}
		} catch (e) {
			/* reconnects below, from the last id seen */
		}
		state.sse = null;
		setTimeout(follow, 1000);
	}

	function onEvent(block) {
		let id = null, type = "message", data = "";
		for (const line of block.split("\n")) {
			if (line.startsWith("id:"))
				id = line.slice(3).trim();
			else if (line.startsWith("event:"))
				type = line.slice(6).trim();
			else if (line.startsWith("data:"))
				data += line.slice(5).trim();
		}
		if (id !== null)
			state.lastEventId = id;
		let o;
		try { o = JSON.parse(data); } catch (e) { return; }
		if (type === "job" && o) {
			if (o.event === "progress")
				state.progress.set(o.job, o);
			else if (o.event === "done") {
				state.progress.delete(o.job);
				if (o.downtime_ms !== undefined)
					state.downtime.set(o.job, o.downtime_ms);
				refresh();
				return;
			} else if (o.event === "started" || o.event === "state") {
				refresh();
				return;
			}
			renderMigrations();
		} else if (type === "drain" && o) {
			onDrainEvent(o);
			renderDrains();
		}
	}

	// A drain's events: "plan" carries the whole drain, "item" one VM
	// that changed, "done" its end (ferryctl maintenance --json's shapes).
	function onDrainEvent(o) {
		if (o.drain && typeof o.drain === "object") {
			state.drains.set(o.drain.id, o.drain);
		} else if (o.drain_id !== undefined) {
			const d = state.drains.get(o.drain_id) ||
			    {id: o.drain_id, items: []};
			if (o.event === "item" && o.vm) {
				const it = d.items.find((x) => x.vm === o.vm);
				const upd = {vm: o.vm, destination: o.destination,
				    state: o.state, reason: o.reason, job: o.job,
				    percent: o.percent};
				if (it)
					Object.assign(it, upd);
				else
					d.items.push(upd);
			} else if (o.state) {
				d.state = o.state;
				if (o.host)
					d.host = o.host;
			}
			state.drains.set(o.drain_id, d);
		}
		if (o.event === "done")
			refresh();
	}

	// ---- rendering --------------------------------------------------------

	function running(j) {
		return !j.ended_ms && !["succeeded", "refused", "rolled_back",
		    "failed", "completed", "incomplete", "cancelled"].includes(j.state);
	}

	function bar(used, reserve, total) {
		const b = el("div", {class: "bar"});
		const pct = (v) => total > 0 ? Math.min(100, v * 100 / total) : 0;
		const f = el("div", {class: used + reserve > total ? "fill over" : "fill"});
		f.style.width = pct(used) + "%";
		b.append(f);
		if (reserve > 0) {
			const r = el("div", {class: "reserve"});
			r.style.width = pct(reserve) + "%";
			b.append(r);
		}
		return b;
	}

	function renderHosts() {
		const box = $("hosts");
		box.replaceChildren();
		for (const h of state.hosts) {
			const vms = state.vms.filter((v) => v.host === h.name);
			const vcpus = vms.reduce((n, v) => n + (v.vcpus || 0), 0);
			const memTotal = h.mem_mib || 0;
			const memFree = h.mem_free_mib !== null && h.mem_free_mib !== undefined ?
			    h.mem_free_mib : memTotal;
			const reserve = h.reserve_mib || 0;
			const memUsed = Math.max(0, memTotal - memFree - reserve);
			const admin = h.admin_state || "active";
			const card = el("div", {class: "host", "data-host": h.name},
			    el("h3", {},
				el("span", {class: "name"}, h.name),
				badge(h.state),
				admin !== "active" ? badge(admin) : null,
				admin === "active" && h.state === "up" ?
				    el("button", {type: "button", class: "danger",
					"data-action": "drain", onclick: () => drainHost(h.name)},
					"drain") : null,
				admin === "draining" ?
				    el("button", {type: "button", "data-action": "cancel",
					onclick: () => cancelDrain(h.name)}, "cancel") : null,
				admin === "maintenance" ?
				    el("button", {type: "button", "data-action": "exit",
					onclick: () => exitMaintenance(h.name)}, "exit") : null),
			    el("div", {class: "meter"},
				el("div", {class: "label"}, "memory " + mib(memUsed) +
				    " used, " + mib(reserve) + " reserved, of " + mib(memTotal)),
				bar(memUsed, reserve, memTotal)),
			    el("div", {class: "meter"},
				el("div", {class: "label"}, "vCPU " + vcpus + " on " +
				    (h.cpus || "?") + " CPUs (ceiling " + ((h.cpus || 0) * 4) + ")"),
				bar(vcpus, 0, (h.cpus || 0) * 4)));
			const ul = el("ul", {class: "vms"});
			for (const v of vms) {
				ul.append(el("li", {"data-vm": v.name},
				    el("span", {class: "vm"}, v.name),
				    el("span", {class: "quiet"}, mib(v.mem_mib) + ", " +
					v.vcpus + " vCPU"),
				    v.role ? el("span", {class: "role"}, v.role +
					(v.job ? " (job " + v.job + ")" : "")) : null,
				    badge(v.state),
				    !v.role && v.state === "running" && h.state === "up" ?
					el("button", {type: "button", "data-action": "migrate",
					    onclick: () => migrateVm(v.name, h.name)}, "migrate") :
					null));
			}
			if (vms.length === 0)
				ul.append(el("li", {class: "quiet"}, "no VMs"));
			card.append(ul);
			box.append(card);
		}
	}

	function renderMigrations() {
		const tb = $("migrations").tBodies[0];
		const jobs = state.jobs.filter((j) => j.kind === "migrate" && running(j));
		tb.replaceChildren();
		for (const j of jobs) {
			const p = state.progress.get(j.id) || {};
			const pct = typeof p.percent === "number" ? p.percent : 0;
			const pr = el("progress", {max: "100", value: pct.toFixed(1)});
			tb.append(el("tr", {"data-job": j.id},
			    el("td", {}, j.id), el("td", {}, j.vm),
			    el("td", {}, j.source || "-"), el("td", {}, j.destination || "-"),
			    el("td", {}, badge(j.state)),
			    el("td", {class: "wide"}, pr,
				el("span", {class: "pct"}, pct.toFixed(1) + " %")),
			    el("td", {}, typeof p.mib_per_s === "number" ?
				p.mib_per_s.toFixed(1) + " MiB/s" : "-"),
			    el("td", {}, typeof p.dirty_mib_per_s === "number" ?
				p.dirty_mib_per_s.toFixed(1) + " MiB/s" : "-"),
			    el("td", {}, typeof p.eta_s === "number" ?
				fmtDur(p.eta_s * 1000) : "-"),
			    el("td", {}, el("button", {type: "button", class: "danger",
				"data-action": "abort", onclick: () => abortJob(j.id, j.vm)},
				"abort"))));
		}
		$("no-migrations").classList.toggle("hidden", jobs.length > 0);
	}

	function renderDrains() {
		const box = $("drains");
		const live = state.jobs.filter((j) => j.kind !== "migrate" && running(j));
		box.replaceChildren();
		for (const j of live) {
			const d = state.drains.get(j.id);
			const items = (d && d.items) || [];
			const host = (d && d.host) || j.source || j.destination || "";
			const tbl = el("table", {},
			    el("thead", {}, el("tr", {}, el("th", {}, "VM"),
				el("th", {}, "Memory"), el("th", {}, "To"),
				el("th", {}, "State"), el("th", {}, "Progress"),
				el("th", {}, "Reason"))));
			const tb = el("tbody");
			for (const it of items) {
				tb.append(el("tr", {"data-vm": it.vm},
				    el("td", {}, it.vm), el("td", {}, mib(it.mem_mib)),
				    el("td", {}, it.destination || "-"),
				    el("td", {}, badge(it.state)),
				    el("td", {}, typeof it.percent === "number" ?
					it.percent.toFixed(1) + " %" : "-"),
				    el("td", {class: "msg"}, it.reason || "")));
			}
			tbl.append(tb);
			box.append(el("div", {class: "drain", "data-drain": j.id},
			    el("h3", {}, j.kind + " " + j.id + (host ? " of " + host : ""),
				badge((d && d.state) || j.state),
				j.kind === "drain" && host ? el("button", {type: "button",
				    "data-action": "cancel", onclick: () => cancelDrain(host)},
				    "cancel") : null),
			    items.length ? tbl : el("p", {class: "quiet"},
				"waiting for its plan")));
		}
		$("no-drains").classList.toggle("hidden", live.length > 0);
	}

	function renderHistory() {
		const tb = $("history").tBodies[0];
		tb.replaceChildren();
		const done = state.jobs.filter((j) => !running(j)).slice(-30).reverse();
		for (const j of done) {
			const dt = state.downtime.get(j.id);
			tb.append(el("tr", {"data-job": j.id},
			    el("td", {}, j.id), el("td", {}, j.kind),
			    el("td", {}, j.vm || "-"), el("td", {}, badge(j.state)),
			    el("td", {}, j.source || "-"), el("td", {}, j.destination || "-"),
			    el("td", {}, fmtTime(j.started_ms)),
			    el("td", {}, j.ended_ms ? fmtDur(j.ended_ms - j.started_ms) : "-"),
			    el("td", {}, j.kind !== "migrate" ? "" : dt === null ||
				dt === undefined ? (j.state === "succeeded" ? "unknown" : "-") :
				dt + " ms"),
			    el("td", {class: "msg"}, j.error || "")));
		}
	}

	function render() {
		renderHosts();
		renderMigrations();
		renderDrains();
		renderHistory();
	}

	// ---- actions: each behind a confirmation ------------------------------

	// Shows the dialog; ok(): a promise (its rejection's message is shown
	// and the dialog stays). Returns when the dialog closes.
	function dialog(title, body, okLabel, ok) {
		const d = $("dialog");
		$("dialog-title").textContent = title;
		$("dialog-body").replaceChildren(...body);
		const err = $("dialog-error");
		err.classList.add("hidden");
		const btn = $("dialog-ok");
		const fresh = btn.cloneNode(true);	// drops the last listener
		fresh.textContent = okLabel;
		fresh.disabled = false;
		btn.replaceWith(fresh);
		fresh.addEventListener("click", async () => {
			fresh.disabled = true;
			try {
				const again = await ok(fresh);
				if (!again)
					d.close();
			} catch (e) {
				err.textContent = e.message;
				err.classList.remove("hidden");
			}
			fresh.disabled = false;
		});
		d.showModal();
	}

	function checksList(rep) {
		const ul = el("ul", {class: "checks"});
		for (const c of (rep && rep.checks) || []) {
			ul.append(el("li", {class: c.ok ? (c.warning ? "warn" : "ok") : "block"},
			    c.name + (c.message ? ": " + c.message : "")));
		}
		return ul;
	}

	function migrateVm(vm, from) {
		const sel = el("select", {id: "migrate-to"}, el("option", {value: ""},
		    "any host (placement)"));
		for (const h of state.hosts)
			if (h.name !== from && h.state === "up" &&
			    (h.admin_state || "active") === "active")
				sel.append(el("option", {value: h.name}, h.name));
		const report = el("div", {id: "migrate-report"},
		    el("p", {class: "quiet"}, "The pre-checks run first; nothing moves until you confirm."));
		let checked = null;
		sel.addEventListener("change", () => {
			checked = null;
			$("dialog-ok").textContent = "Check";
			report.replaceChildren();
		});
		dialog("Migrate " + vm, [el("label", {}, "from " + from + " to ", sel), report],
		    "Check", async (btn) => {
			const to = sel.value || undefined;
			if (checked === null || checked.to !== to) {
				const rep = await api("POST", "/v1/checks", {vm: vm, to: to});
				checked = {to: to, ok: rep.ok};
				report.replaceChildren(el("p", {},
				    rep.ok ? "All checks pass" + (rep.destination ?
					" for " + rep.destination : "") + "." :
				    "Blocked: the migration would be refused."),
				    checksList(rep));
				if (rep.ok) {
					btn.textContent = "Migrate now";
					if (!to && rep.destination)
						checked.dest = rep.destination;
				}
				return true;	// stay open: confirm next
			}
			if (!checked.ok)
				throw new Error("a check blocks this migration");
			await api("POST", "/v1/migrations", {vm: vm, to: to});
			refresh();
			return false;
		});
	}

	function abortJob(id, vm) {
		dialog("Abort job " + id, [el("p", {}, "Abort the migration of " + vm +
		    "? It rolls back to its source; the job ends once both hosts confirm.")],
		    "Abort", async () => {
			await api("POST", "/v1/jobs/" + id + "/abort");
			refresh();
			return false;
		});
	}

	function drainHost(host) {
		const plan = el("div", {}, el("p", {class: "quiet"}, "Planning (dry run)..."));
		dialog("Drain " + host, [el("p", {}, "Move every VM off " + host +
		    " and put it in maintenance."), plan], "Drain", async () => {
			await api("POST", "/v1/hosts/" + encodeURIComponent(host) +
			    "/maintenance", {action: "enter"});
			refresh();
			return false;
		});
		api("POST", "/v1/hosts/" + encodeURIComponent(host) + "/maintenance",
		    {action: "enter", dry_run: true}).then((d) => {
			const ul = el("ul", {class: "checks"});
			for (const it of (d && d.items) || [])
				ul.append(el("li", {class: it.state === "unmovable" ? "block" : "ok"},
				    it.vm + " -> " + (it.destination || "?") +
				    (it.reason ? ": " + it.reason : "")));
			plan.replaceChildren(el("p", {}, "Plan: " + ((d && d.items) || []).length +
			    " VM(s)" + (d && d.message ? " (" + d.message + ")" : "")), ul);
		}).catch((e) => plan.replaceChildren(el("p", {class: "error"}, e.message)));
	}

	function cancelDrain(host) {
		dialog("Cancel the drain of " + host, [el("p", {}, "Start no new migration; " +
		    "running ones end; " + host + " becomes active again.")], "Cancel drain",
		    async () => {
			await api("POST", "/v1/hosts/" + encodeURIComponent(host) +
			    "/maintenance", {action: "cancel"});
			refresh();
			return false;
		});
	}

	function exitMaintenance(host) {
		dialog("Bring " + host + " back", [el("p", {}, host +
		    " leaves maintenance and takes VMs again.")], "Exit maintenance",
		    async () => {
			await api("POST", "/v1/hosts/" + encodeURIComponent(host) +
			    "/maintenance", {action: "exit"});
			refresh();
			return false;
		});
	}

	// ---- start ----------------------------------------------------------------

	function start() {
		takeToken();
		$("token-form").addEventListener("submit", (ev) => {
			ev.preventDefault();
			const t = $("token-input").value.trim();
			if (!t)
				return;
			sessionStorage.setItem(TOKEN_KEY, t);
			$("token-input").value = "";
			takeToken();
			refresh();
			follow();
		});
		$("token-forget").addEventListener("click", () => {
			sessionStorage.removeItem(TOKEN_KEY);
			if (state.sse)
				state.sse.abort();
			takeToken();
			setConn(false);
		});
		refresh();
		follow();
		setInterval(refresh, POLL_MS);
	}

	document.addEventListener("DOMContentLoaded", start);
})();
