/* transport_auth.c: a server connection's handshake: key exchange,
 * publickey authentication against the authorized keys, the one "ferry"
 * subsystem channel; everything else refused.
 */
#include <sys/types.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "log.h"
#include "transport_int.h"

static void
tr_log_refused(struct tr_conn *c, ssh_key key)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;

	if (key != NULL && ssh_get_publickey_hash(key,
	    SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0)
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256,
		    hash, hlen);
	log_warnx("%s: refused key %s (%s)", c->peer,
	    fp ? fp : "(no fingerprint)",
	    key ? ssh_key_type_to_char(ssh_key_type(key)) : "?");
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
}

/* libssh deprecates the state getter in favour of its callback API; the
 * message API keeps the whole handshake in one readable loop. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static enum ssh_publickey_state_e
tr_pubkey_state(ssh_message msg)
{
	return ssh_message_auth_publickey_state(msg);
}

/* The key belongs to msg. */
static ssh_key
tr_pubkey(ssh_message msg)
{
	return ssh_message_auth_pubkey(msg);
}

#pragma GCC diagnostic pop

/* For logs: what a refused request asked for. */
static const char *
tr_request_name(int type, int sub)
{
	static const char *chan[] = { "unknown", "session", "direct-tcpip",
	    "forwarded-tcpip", "x11", "auth-agent" };
	static const char *req[] = { "unknown", "pty", "exec", "shell", "env",
	    "subsystem", "window-change", "x11" };

	if (type == SSH_REQUEST_CHANNEL_OPEN && sub >= 0 &&
	    (size_t)sub < sizeof(chan) / sizeof(chan[0]))
		return chan[sub];
	if (type == SSH_REQUEST_CHANNEL && sub >= 0 &&
	    (size_t)sub < sizeof(req) / sizeof(req[0]))
		return req[sub];
	if (type == SSH_REQUEST_GLOBAL)
		return "global request";
	if (type == SSH_REQUEST_SERVICE)
		return "service";
	return "request";
}

/* Session up: requests the peer may still send are refused, not queued. */
static int
tr_refuse_msg(ssh_session s, ssh_message msg, void *arg)
{
	struct tr_conn *c = arg;

	(void)s;
	log_info("%s: refused %s%s (session already up)", c->peer,
	    ssh_message_type(msg) == SSH_REQUEST_CHANNEL_OPEN ?
	    "channel open: " : "",
	    tr_request_name(ssh_message_type(msg), ssh_message_subtype(msg)));
	return 1;	/* libssh replies with a failure */
}

/* Server connection thread, the client just proved its key: it leaves
 * the unauthenticated count for an authenticated slot, which only other
 * authenticated sessions can take. -1: none free. */
static int
tr_server_promote(struct tr_conn *c)
{
	struct tr_server *srv = c->srv;
	int rc = -1;

	pthread_mutex_lock(&srv->mu);
	if (srv->nauth < srv->max_sessions) {
		srv->nunauth--;
		srv->nauth++;
		c->authed = 1;
		rc = 0;
	}
	pthread_mutex_unlock(&srv->mu);
	return rc;
}

/* Server connection thread: key exchange, publickey auth against the
 * authorized keys, one session channel with the "ferry" subsystem. */
int
tr_srv_handshake(struct tr_conn *c, char *reason, size_t rlen)
{
	struct tr_server *srv = c->srv;
	ssh_message msg;
	ssh_key *keys = NULL, pk;
	uint64_t deadline;
	int nkeys = -1, authed = 0, done = 0, tries = 0, type, sub, i, rc = -1;
	int full = 0;
	const char *name;

	pthread_mutex_lock(&c->mu);
	deadline = c->hs_deadline;
	pthread_mutex_unlock(&c->mu);
	ssh_set_auth_methods(c->ssh, SSH_AUTH_METHOD_PUBLICKEY);
	tr_set_timeout(c->ssh, deadline);
	if (ssh_handle_key_exchange(c->ssh) != SSH_OK) {
		if (tr_conn_check(c, reason, rlen) == 0)
			snprintf(reason, rlen, "key exchange: %s",
			    ssh_get_error(c->ssh));
		goto done;
	}
	/* Read at every login: a file made writable since start is refused
	 * now, not at the next restart. */
	if (tr_check_trusted(srv->authorized_keys, "authorized_keys", reason,
	    rlen) == -1) {
		log_warnx("%s", reason);
		goto done;
	}
	if ((nkeys = tr_keys_load(srv->authorized_keys, &keys)) == -1) {
		snprintf(reason, rlen, "cannot read %s", srv->authorized_keys);
		goto done;
	}
	while (!done) {
		if (tr_conn_check(c, reason, rlen) == -1)
			goto done;
		if (tr_now_ms() >= deadline) {
			snprintf(reason, rlen, "handshake timeout (%d ms)",
			    c->hs_timeout);
			goto done;
		}
		tr_set_timeout(c->ssh, deadline);
		if ((msg = ssh_message_get(c->ssh)) == NULL) {
			if (tr_conn_check(c, reason, rlen) == 0) {
				if (tr_now_ms() >= deadline)
					snprintf(reason, rlen, "handshake "
					    "timeout (%d ms)", c->hs_timeout);
				else
					snprintf(reason, rlen, "handshake: %s",
					    ssh_get_error(c->ssh));
			}
			goto done;
		}
		type = ssh_message_type(msg);
		sub = ssh_message_subtype(msg);
		if (!authed) {
			if (type != SSH_REQUEST_AUTH ||
			    sub != SSH_AUTH_METHOD_PUBLICKEY) {
				ssh_message_auth_set_methods(msg,
				    SSH_AUTH_METHOD_PUBLICKEY);
				ssh_message_reply_default(msg);
				ssh_message_free(msg);
				continue;
			}
			pk = tr_pubkey(msg);
			for (i = 0; pk != NULL && i < nkeys; i++)
				if (ssh_key_cmp(pk, keys[i],
				    SSH_KEY_CMP_PUBLIC) == 0)
					break;
			if (pk == NULL || i == nkeys) {
				tr_log_refused(c, pk);
				ssh_message_auth_set_methods(msg,
				    SSH_AUTH_METHOD_PUBLICKEY);
				ssh_message_reply_default(msg);
				ssh_message_free(msg);
				if (++tries >= TR_MAX_AUTH_TRIES) {
					snprintf(reason, rlen, "too many "
					    "refused keys");
					goto done;
				}
				continue;
			}
			switch (tr_pubkey_state(msg)) {
			case SSH_PUBLICKEY_STATE_NONE:	/* a probe */
				ssh_message_auth_reply_pk_ok_simple(msg);
				break;
			case SSH_PUBLICKEY_STATE_VALID:
				ssh_message_auth_reply_success(msg, 0);
				authed = 1;
				full = tr_server_promote(c) == -1;
				break;
			default:			/* bad signature */
				ssh_message_auth_set_methods(msg,
				    SSH_AUTH_METHOD_PUBLICKEY);
				ssh_message_reply_default(msg);
				break;
			}
		} else if (c->ch == NULL) {
			if (full) {
				/* Logged in, but every session slot is taken
				 * by other authenticated sessions. */
				ssh_message_reply_default(msg);
				ssh_message_free(msg);
				snprintf(reason, rlen, "refused: already %d "
				    "authenticated sessions", srv->max_sessions);
				goto done;
			}
			if (type == SSH_REQUEST_CHANNEL_OPEN &&
			    sub == SSH_CHANNEL_SESSION) {
				c->ch =
				    ssh_message_channel_request_open_reply_accept(
				    msg);
				if (c->ch == NULL) {
					ssh_message_free(msg);
					snprintf(reason, rlen, "channel open: "
					    "%s", ssh_get_error(c->ssh));
					goto done;
				}
			} else {
				log_info("%s: refused %s%s", c->peer,
				    type == SSH_REQUEST_CHANNEL_OPEN ?
				    "channel open: " : "",
				    tr_request_name(type, sub));
				ssh_message_reply_default(msg);
			}
		} else {
			name = (type == SSH_REQUEST_CHANNEL &&
			    sub == SSH_CHANNEL_REQUEST_SUBSYSTEM) ?
			    ssh_message_channel_request_subsystem(msg) : NULL;
			if (name != NULL && strcmp(name, TR_SUBSYSTEM) == 0 &&
			    ssh_message_channel_request_channel(msg) == c->ch) {
				ssh_message_channel_request_reply_success(msg);
				done = 1;
			} else {
				log_info("%s: refused channel request: %s%s%s",
				    c->peer, tr_request_name(type, sub),
				    name ? " " : "", name ? name : "");
				ssh_message_reply_default(msg);
			}
		}
		ssh_message_free(msg);
	}
	ssh_set_message_callback(c->ssh, tr_refuse_msg, c);
	rc = 0;
 done:
	tr_keys_free(keys, nkeys > 0 ? nkeys : 0);
	return rc;
}
