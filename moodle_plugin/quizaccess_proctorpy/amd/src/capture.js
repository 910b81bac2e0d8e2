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
 * Capture during a proctored attempt: a camshot at random intervals, browser events and a small
 * status indicator. The identity check comes before, in the pre-flight form.
 *
 * Nothing here may stop the student from working: failures are retried and shown on the
 * indicator only.
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
     *     servertime (the server's clock when it made the page, unix milliseconds)
     */
    constructor(config) {
        this.config = config;
        this.now = Camera.serverClock(config.servertime);
        this.video = document.createElement('video');
        this.video.setAttribute('playsinline', '');
        this.stream = null;
        this.cameraDown = false;
        this.indicator = null;
        // The fallback event itself travels through Moodle, the path that works.
        const transport = config.direct
            ? Direct.withFallback(Direct.transport(config.direct), forward, () => this.event('direct_fallback'))
            : forward;
        this.uploader = new Uploader(config.attemptid, transport, (pending, failing) => this.show(pending, failing));
    }

    /**
     * Start: indicator, camera, camshots and events.
     */
    async start() {
        const html = await Templates.render('quizaccess_proctorpy/indicator', {});
        document.body.insertAdjacentHTML('beforeend', html);
        this.indicator = document.body.lastElementChild;
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
            this.stream.getVideoTracks().forEach((track) => track.addEventListener('ended', () => this.cameraLost()));
            if (this.cameraDown) {
                this.cameraDown = false;
                this.event('camera_back');
            }
            this.show(this.uploader.items.length, false);
        } catch (error) {
            this.cameraLost();
        }
    }

    /**
     * The camera stopped or could not be opened: report once, retry until it is back.
     */
    cameraLost() {
        if (!this.cameraDown) {
            this.cameraDown = true;
            this.event('camera_lost');
        }
        Camera.close(this.stream);
        this.stream = null;
        this.setState('off');
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
 * @param {Object} config attemptid, intervalmin, intervalmax, width, direct
 * @returns {Promise<Capture>}
 */
export const init = async(config) => {
    const capture = new Capture(config);
    await capture.start();
    return capture;
};
