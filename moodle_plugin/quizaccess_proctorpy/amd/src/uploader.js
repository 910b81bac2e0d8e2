// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * Queue of camshots and events waiting to reach the sidecar, kept across the attempt's pages
 * and retried with backoff until they arrive.
 *
 * Items travel through a transport: `forward` (Moodle's external functions, which sign and
 * forward them), or the direct transport of quizaccess_proctorpy/direct, which falls back to
 * `forward`.
 *
 * @module     quizaccess_proctorpy/uploader
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

import Ajax from 'core/ajax';

/** First retry delay, milliseconds. */
const BACKOFF_START = 2000;
/** Longest retry delay, milliseconds. */
const BACKOFF_MAX = 60000;
/** Camshots kept while the sidecar is unreachable; the oldest are dropped past this (sessionStorage is ~5 MB). */
const MAX_CAMSHOTS = 60;
/** Error codes after which trying again cannot help. */
const FINAL_ERRORS = ['err_notyourattempt', 'err_attemptnotinprogress', 'err_notproctored', 'invalidparameter',
    'sidecarrefused', 'invalidrecord'];

/**
 * Transport through Moodle: one external function per kind of item.
 */
export const forward = {
    /**
     * Send one item.
     *
     * @param {Object} item queued item: kind 'camshot' or 'event', args of the external function
     * @returns {Promise}
     */
    send: (item) => Ajax.call([{
        methodname: item.kind === 'camshot' ? 'quizaccess_proctorpy_upload_camshot' : 'quizaccess_proctorpy_send_event',
        args: item.args,
    }])[0],
};

/**
 * Whether a failure is final for an item.
 *
 * @param {Object} error what the transport rejected with
 * @returns {boolean}
 */
const isFinal = (error) => Boolean(error && FINAL_ERRORS.includes(error.errorcode));

export class Uploader {
    /**
     * A queue for one attempt.
     *
     * @param {number} attemptid quiz attempt id
     * @param {Object} transport object with send(item) returning a promise
     * @param {Function} onchange called with (pending count, whether the last send failed)
     * @param {Function} now the server's clock (Camera.serverClock), by which event times are sent
     */
    constructor(attemptid, transport, onchange, now) {
        this.key = 'quizaccess_proctorpy_queue_' + attemptid;
        this.attemptid = attemptid;
        this.transport = transport;
        this.onchange = onchange;
        this.now = now;
        this.items = this.load();
        this.delay = 0;
        this.timer = null;
        this.sending = false;
        // When uploads began to fail, kept across the attempt's pages: an outage may outlast a page.
        this.outageKey = 'quizaccess_proctorpy_outage_' + attemptid;
        this.outageSince = Number(window.sessionStorage.getItem(this.outageKey)) || null;
    }

    /**
     * Items left by an earlier page of the same attempt.
     *
     * @returns {Array}
     */
    load() {
        try {
            return JSON.parse(window.sessionStorage.getItem(this.key)) || [];
        } catch (e) {
            return [];
        }
    }

    /**
     * Keep the queue for the next page; when storage is full, drop the oldest camshots first.
     */
    save() {
        for (;;) {
            try {
                window.sessionStorage.setItem(this.key, JSON.stringify(this.items));
                return;
            } catch (e) {
                const oldest = this.items.findIndex((item) => item.kind === 'camshot');
                if (oldest < 0) {
                    return;
                }
                this.items.splice(oldest, 1);
            }
        }
    }

    /**
     * Queue an item and try to send.
     *
     * @param {string} kind camshot or event
     * @param {Object} args arguments of the external function
     */
    add(kind, args) {
        this.items.push({kind: kind, args: args});
        const camshots = this.items.filter((item) => item.kind === 'camshot');
        if (camshots.length > MAX_CAMSHOTS) {
            this.items.splice(this.items.indexOf(camshots[0]), 1);
        }
        this.save();
        this.onchange(this.items.length, this.outageSince !== null);
        if (!this.timer) {
            this.flush();
        }
    }

    /**
     * Send queued items in order until the queue is empty or a send fails.
     */
    async flush() {
        if (this.sending) {
            return;
        }
        this.sending = true;
        this.timer = null;
        while (this.items.length) {
            const item = this.items[0];
            try {
                await this.transport.send(item);
            } catch (error) {
                if (!isFinal(error)) {
                    this.retryLater();
                    return;
                }
            }
            this.items.shift();
            this.save();
            this.recovered();
            this.onchange(this.items.length, false);
        }
        this.sending = false;
    }

    /**
     * Schedule the next try with exponential backoff and some jitter.
     */
    retryLater() {
        this.sending = false;
        if (this.outageSince === null) {
            this.outageSince = this.now();
            window.sessionStorage.setItem(this.outageKey, String(this.outageSince));
        }
        this.delay = Math.min(BACKOFF_MAX, this.delay ? this.delay * 2 : BACKOFF_START);
        this.timer = setTimeout(() => this.flush(), this.delay * (0.8 + Math.random() * 0.4));
        this.onchange(this.items.length, true);
    }

    /**
     * After an outage, tell the sidecar when uploads failed and when they came back (both arrive late): the
     * sidecar's scoring checks this span against its own records before it excuses any of it.
     */
    recovered() {
        this.delay = 0;
        if (this.outageSince !== null) {
            const since = this.outageSince;
            this.outageSince = null;
            window.sessionStorage.removeItem(this.outageKey);
            this.items.push({kind: 'event', args: {attemptid: this.attemptid, type: 'upload_failed', at: since,
                clienteventid: 'outage' + since}});
            this.items.push({kind: 'event', args: {attemptid: this.attemptid, type: 'upload_back', at: this.now(),
                clienteventid: 'outageend' + since}});
            this.save();
        }
    }
}
