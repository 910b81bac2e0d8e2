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
 * Capture during a proctored attempt: a camshot at random intervals, browser events, a small
 * status indicator and, when something goes wrong, a banner that says what happened, what to do
 * and how it counts. The identity check comes before, in the pre-flight form.
 *
 * Nothing here may stop the student from working: failures are retried, and told, never blocking.
 *
 * @module     quizaccess_proctorpy/capture
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

import Templates from 'core/templates';
import {getString} from 'core/str';
import * as Camera from 'quizaccess_proctorpy/camera';
import {Uploader, forward} from 'quizaccess_proctorpy/uploader';
import * as Direct from 'quizaccess_proctorpy/direct';

/** How often a lost camera is tried again, milliseconds. */
const CAMERA_RETRY = 3000;

class Capture {
    /**
     * Capture for one attempt.
     *
     * @param {Object} config attemptid, intervalmin, intervalmax (seconds), width (pixels),
     *     direct (url, token, userid for direct upload; null to forward through Moodle),
     *     servertime (the server's clock when it made the page, unix milliseconds),
     *     summary (whether this is the quiz's summary page, the last before submitting)
     */
    constructor(config) {
        this.config = config;
        this.now = Camera.serverClock(config.servertime);
        this.video = document.createElement('video');
        this.video.setAttribute('playsinline', '');
        this.stream = null;
        this.cameraDown = false;
        // Why the camera is down: stopped, blocked, busy, absent or failed (banner_camera_* strings).
        this.cameraProblem = null;
        this.indicator = null;
        this.banner = null;
        // The fallback event itself travels through Moodle, the path that works.
        const transport = config.direct
            ? Direct.withFallback(Direct.transport(config.direct), forward, () => this.event('direct_fallback'))
            : forward;
        this.uploader = new Uploader(config.attemptid, transport, (pending, failing) => this.show(pending, failing),
            this.now);
    }

    /**
     * Start: indicator, banner, camera, camshots and events.
     */
    async start() {
        const html = await Templates.render('quizaccess_proctorpy/indicator', {});
        document.body.insertAdjacentHTML('beforeend', html);
        this.indicator = document.body.lastElementChild;
        // Above the questions, where the student reads; Moodle's main region, or the page itself.
        const main = document.querySelector('#region-main, [role="main"]') || document.body;
        main.insertAdjacentHTML('afterbegin', await Templates.render('quizaccess_proctorpy/banner', {}));
        this.banner = main.querySelector('[data-region="quizaccess_proctorpy-banner"]');
        this.listen();
        await this.openCamera();
        this.scheduleShot();
        // Items queued on an earlier page of this attempt go first.
        this.uploader.flush();
    }

    /**
     * Open the camera; on failure report it and keep trying.
     */
    async openCamera() {
        try {
            this.stream = await Camera.open(this.video, this.config.width);
            this.stream.getVideoTracks().forEach((track) => track.addEventListener('ended',
                () => this.cameraLost('stopped')));
            if (this.cameraDown) {
                this.cameraDown = false;
                this.cameraProblem = null;
                this.event('camera_back');
            }
            this.show(this.uploader.items.length, this.uploader.outageSince !== null);
        } catch (error) {
            const problem = Camera.problem(error);
            // A camera that was running and now fails to reopen is still a stopped camera to the student.
            this.cameraLost(problem === 'failed' || problem === 'insecure' ? this.cameraProblem || 'failed' : problem);
        }
    }

    /**
     * The camera stopped or could not be opened: report once, retry until it is back.
     *
     * @param {string} problem stopped, blocked, busy, absent or failed
     */
    cameraLost(problem) {
        this.cameraProblem = problem;
        if (!this.cameraDown) {
            this.cameraDown = true;
            this.event('camera_lost');
        }
        Camera.close(this.stream);
        this.stream = null;
        this.setState('off');
        this.tell();
        setTimeout(() => this.openCamera(), CAMERA_RETRY);
    }

    /**
     * Take a camshot at a random moment within the quiz's interval.
     */
    scheduleShot() {
        const min = this.config.intervalmin * 1000;
        const max = Math.max(min, this.config.intervalmax * 1000);
        setTimeout(() => {
            this.shoot();
            this.scheduleShot();
        }, min + Math.random() * (max - min));
    }

    /**
     * Queue the current frame; with no frame (camera down) the gap itself is what the sidecar scores.
     */
    shoot() {
        const image = this.stream ? Camera.frame(this.video, this.config.width) : null;
        if (image) {
            this.uploader.add('camshot', {attemptid: this.config.attemptid, takenat: this.now(),
                clientshotid: Camera.randomId(), kind: 'attempt', image: image});
        }
    }

    /**
     * Queue a browser event.
     *
     * @param {string} type event type
     */
    event(type) {
        this.uploader.add('event', {attemptid: this.config.attemptid, type: type, at: this.now(),
            clienteventid: Camera.randomId()});
    }

    /**
     * Report tab switches, window focus and leaving full screen.
     */
    listen() {
        // Going to the next page of the quiz hides this one too (pagehide comes first): that is not
        // leaving the quiz, and no page would ever report the tab visible again.
        this.leaving = false;
        document.addEventListener('visibilitychange', () => {
            if (!this.leaving) {
                this.event(document.hidden ? 'tab_hidden' : 'tab_visible');
            }
        });
        window.addEventListener('blur', () => {
            if (!this.leaving) {
                this.event('focus_lost');
            }
        });
        window.addEventListener('focus', () => this.event('focus_back'));
        document.addEventListener('fullscreenchange', () => {
            if (!document.fullscreenElement) {
                this.event('fullscreen_exit');
            }
        });
        window.addEventListener('pagehide', () => {
            this.leaving = true;
            Camera.close(this.stream);
        });
        window.addEventListener('pageshow', () => {
            this.leaving = false;
        });
    }

    /**
     * Show the camera and upload state.
     *
     * @param {number} pending items waiting to be sent
     * @param {boolean} failing whether the last send failed
     */
    show(pending, failing) {
        if (this.cameraDown) {
            this.setState('off');
        } else if (this.stream) {
            this.setState(failing ? 'reconnecting' : 'on');
        }
        if (this.indicator) {
            this.indicator.querySelector('[data-region="pending"]').textContent = pending > 1 ? '(' + pending + ')' : '';
        }
        this.tell();
    }

    /**
     * What the banner says now, most urgent first: a camera problem (the student can act, and the time
     * counts); on the summary page, camshots that still wait to be sent (submitting now would lose them);
     * then uploads that fail (the student need only wait). Null when all is well.
     *
     * @returns {Object|null} level (Bootstrap alert colour); the string ids of its title, of what happened
     *     and what to do (message), and of how the time counts; count, the camshots waiting where the message
     *     says how many (each new count is read out again, so only the summary page's warning gives one)
     */
    trouble() {
        const camshots = this.uploader.items.filter((item) => item.kind === 'camshot').length;
        if (this.cameraDown) {
            return {level: 'danger', title: 'banner_camera', message: 'banner_camera_' + this.cameraProblem,
                counts: 'banner_camera_counts', count: null};
        }
        // One camshot on its way is the normal state; two or more mean sending lags behind taking.
        if (this.config.summary && camshots > 1) {
            return {level: 'warning', title: 'banner_queued', message: 'banner_queued_submit',
                counts: 'banner_queued_counts', count: camshots};
        }
        if (this.uploader.outageSince !== null) {
            return {level: 'warning', title: 'banner_upload', message: 'banner_upload_delayed',
                counts: 'banner_upload_counts', count: null};
        }
        return null;
    }

    /**
     * Show, change or hide the banner; it is rewritten only when its message changes, so that screen
     * readers announce each change once.
     */
    async tell() {
        if (!this.banner) {
            return;
        }
        const trouble = this.trouble();
        const key = trouble ? [trouble.level, trouble.title, trouble.message, trouble.count].join(' ') : '';
        if (this.banner.dataset.shown === key) {
            return;
        }
        this.banner.dataset.shown = key;
        if (!trouble) {
            this.banner.hidden = true;
            this.banner.dataset.trouble = '';
            return;
        }
        const [title, message, counts] = await Promise.all([
            getString(trouble.title, 'quizaccess_proctorpy'),
            getString(trouble.message, 'quizaccess_proctorpy', trouble.count),
            getString(trouble.counts, 'quizaccess_proctorpy'),
        ]);
        if (this.banner.dataset.shown !== key) {
            // A newer state was told while the strings loaded.
            return;
        }
        this.banner.className = this.banner.className.replace(/\balert-(danger|warning)\b/, 'alert-' + trouble.level);
        this.banner.dataset.trouble = trouble.title;
        this.banner.querySelector('[data-region="title"]').textContent = title;
        this.banner.querySelector('[data-region="message"]').textContent = message;
        this.banner.querySelector('[data-region="counts"]').textContent = counts;
        this.banner.hidden = false;
    }

    /**
     * Set the indicator's state and label.
     *
     * @param {string} state on, reconnecting or off
     */
    async setState(state) {
        if (!this.indicator || this.indicator.dataset.state === state) {
            return;
        }
        this.indicator.dataset.state = state;
        // Background and text colours that Bootstrap 4 (Moodle 4.5) and Bootstrap 5 (Moodle 5) both have.
        this.indicator.className = this.indicator.className.replace(/\bbg-\w+ text-\w+/,
            {on: 'bg-success text-white', reconnecting: 'bg-warning text-dark', off: 'bg-danger text-white'}[state]);
        this.indicator.querySelector('[data-region="label"]').textContent =
            await getString('indicator_' + state, 'quizaccess_proctorpy');
    }
}

/**
 * Start capture on an attempt page.
 *
 * @param {Object} config attemptid, intervalmin, intervalmax, width, servertime, direct, summary
 * @returns {Promise<Capture>}
 */
export const init = async(config) => {
    const capture = new Capture(config);
    await capture.start();
    return capture;
};
