/* follow.c: the one loop of every command that streams events (migrate and
 * watch, maintenance --wait, rebalance --apply). It sends the call, waits
 * for its reply (reply_wait_ms at most), then hands over its events until a
 * callback returns an exit status. Where the command can interrupt what it
 * follows (abort a job, cancel a drain), Ctrl-C asks, and a Ctrl-C that
 * lands before the reply is kept until the reply names what to interrupt.
 * The question never stops the loop: the terminal is polled beside the
 * socket, so events are still shown (and progress redrawn) while it waits
 * for its key. What is shown, and how, is the command's; see ferryctl.h. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferryctl.h"

#define POLL_MS		250	/* bounds a SIGINT that lands just before poll */

static volatile sig_atomic_t follow_got_sigint;

static void
follow_on_sigint(int sig)
{
	(void)sig;
	follow_got_sigint = 1;
}

static uint64_t
follow_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends the interrupt. Returns an exit status (lost), or -1. */
static int
follow_send(struct follow *f)
{
	if (f->ops->send(f, &f->sent_serial) < 0) {
		f->ops->lost(f);
		return CTL_EXIT_FAIL;
	}
	return -1;
}

/* The question is answered (or can no longer be asked): shown without it,
 * then the interrupt sent on yes. */
static int
follow_answer(struct follow *f, int yes)
{
	int written = f->question_written;

	f->question = NULL;
	f->question_written = 0;
	out_ask_close(written ? (yes ? "y" : "n") : NULL);
	if (f->ops->redraw != NULL)
		(void)f->ops->redraw(f);
	return yes ? follow_send(f) : -1;
}

/* Ctrl-C: the command interrupts at once or asks; asking only opens the
 * question, which the loop then answers from the terminal. Returns an
 * exit status (lost), or -1. */
static int
follow_interrupt(struct follow *f, int pending)
{
	int shown;

	if (f->ops->ask(f, pending, f->qbuf, sizeof(f->qbuf)))
		return follow_send(f);
	f->question = f->qbuf;
	/* The terminal stops echoing before the question shows: a key
	 * pressed on seeing it is the answer, not an echo on the line. */
	if ((f->ask_fd = out_ask_open(NULL)) == -1)
		return follow_answer(f, 1);	/* no terminal after all */
	shown = f->ops->redraw != NULL && f->ops->redraw(f);
	if (!shown && write(f->ask_fd, f->qbuf, strlen(f->qbuf)) < 0)
		return follow_answer(f, 1);	/* the terminal went away */
	f->question_written = !shown;
	return -1;
}

/* While a question is open: waits for the socket or a key, at most
 * POLL_MS. Returns an exit status, -1 to read the socket, -2 for another
 * turn. */
static int
follow_poll_question(struct follow *f)
{
	struct pollfd pfd[2];
	int key, rc;

	pfd[0].fd = f->c->fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = f->ask_fd;
	pfd[1].events = POLLIN;
	pfd[0].revents = pfd[1].revents = 0;
	if (poll(pfd, 2, POLL_MS) == -1)
		return errno == EINTR ? -2 : -1;
	if (pfd[1].revents != 0 && (key = out_ask_key()) >= 0 &&
	    (rc = follow_answer(f, key)) >= 0)
		return rc;
	return pfd[0].revents != 0 ? -1 : -2;
}

/* The call's reply: an error ends the loop here, else the command's. */
static int
follow_reply(struct follow *f, const struct frame *fr)
{
	if (fr->hdr.status == FRAME_ERROR) {
		ctl_print_frame_error(fr);
		return CTL_EXIT_FAIL;
	}
	f->have_reply = 1;
	return f->ops->reply(f, fr);
}

int
follow_run(struct follow *f, uint16_t type, const ProtobufCMessage *m)
{
	const struct follow_ops *ops = f->ops;
	struct sigaction sa;
	struct frame *fr;
	uint64_t deadline, now;
	int rc = -1, wait;

	f->sigint = &follow_got_sigint;
	f->pending = 0;
	f->sent_serial = 0;
	f->have_reply = 0;
	f->question = NULL;
	f->question_written = 0;
	f->ask_fd = -1;
	if (ops->ask != NULL) {
		/* No SA_RESTART: the signal must break poll() in ctl_read. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = follow_on_sigint;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		/* SIGPIPE stays default: a coordinator gone while we
		 * interrupt is an error (ctl_send's MSG_NOSIGNAL), a closed
		 * stdout the end. */
	}
	if (ctl_send(f->c, type, m, &f->serial) < 0)
		return CTL_EXIT_FAIL;
	deadline = follow_mono_ms() + (uint64_t)f->reply_wait_ms;
	while (rc < 0) {
		if (follow_got_sigint && ops->ask != NULL) {
			follow_got_sigint = 0;
			if (f->question != NULL) {
				/* A second Ctrl-C while asking: yes. */
				if ((rc = follow_answer(f, 1)) >= 0)
					break;
			} else if (f->sent_serial || f->pending) {
				/* Ctrl-C again: the command says whether it
				 * stops waiting. */
				if ((rc = ops->again(f, f->sent_serial == 0)) >= 0)
					break;
			} else if (!f->have_reply)
				f->pending = 1;	/* nothing to name yet */
			else if ((rc = follow_interrupt(f, 0)) >= 0)
				break;
		}
		now = follow_mono_ms();
		if (!f->have_reply && now >= deadline) {
			out_fail("the coordinator did not answer in %d s",
			    f->reply_wait_ms / 1000);
			rc = CTL_EXIT_FAIL;
			break;
		}
		if (f->question != NULL) {
			if ((rc = follow_poll_question(f)) >= 0)
				break;
			if (rc == -2) {
				rc = -1;
				continue;
			}
			rc = -1;
			wait = POLL_MS;
		} else if (ops->ask != NULL)
			wait = POLL_MS;
		else if (!f->have_reply)
			wait = (int)(deadline - now);
		else
			wait = -1;
		if (ctl_read(f->c, wait, &fr) < 0) {
			ops->lost(f);
			rc = CTL_EXIT_FAIL;
			break;
		}
		if (fr == NULL)
			continue;
		if (fr->hdr.kind == FRAME_REPLY && fr->hdr.serial == f->serial &&
		    !f->have_reply)
			rc = follow_reply(f, fr);
		else if (fr->hdr.kind == FRAME_REPLY && f->sent_serial &&
		    fr->hdr.serial == f->sent_serial)
			ops->sent_reply(f, fr);
		else if (fr->hdr.kind == FRAME_EVENT && ops->event != NULL &&
		    fr->hdr.type == ops->event_type &&
		    fr->hdr.serial == f->serial)
			rc = ops->event(f, fr);
		frame_free(fr);
		if (rc < 0 && f->pending && f->have_reply) {
			/* The Ctrl-C that came before the reply: what to
			 * interrupt is known now; asked as if then. */
			f->pending = 0;
			rc = follow_interrupt(f, 1);
		}
	}
	if (f->question != NULL) {
		/* Ended while asking: the question with it. */
		out_ask_close(f->question_written ? "" : NULL);
		f->question = NULL;
	}
	return rc;
}
