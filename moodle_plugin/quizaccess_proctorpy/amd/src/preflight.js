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
 * Pre-flight check of a proctored quiz: live camera preview; the start button stays disabled
 * until the camera delivers a frame. At an attempt's identity step, the photo for the sidecar's
 * check: the server ends the step, this module only takes the photo and shows the answer.
 *
 * @module     quizaccess_proctorpy/preflight
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

import Ajax from 'core/ajax';
import * as Camera from 'quizaccess_proctorpy/camera';
import {getString} from 'core/str';

/**
 * Show a sentence in a status region.
 *
 * @param {HTMLElement} element the region
 * @param {string} kind info, success, warning or danger
 * @param {string} text the sentence
 */
const say = (element, kind, text) => {
    element.className = 'alert alert-' + kind;
    element.textContent = text;
};

/**
 * The identity step: each photo is checked by the sidecar at once; a refused one can be taken again.
 *
 * @param {HTMLElement} region the identity region
 * @param {HTMLVideoElement} video the playing preview
 * @param {number} attemptid the attempt
 * @param {number} width photo width in pixels
 * @param {HTMLElement|null} start the form's submit button
 * @param {Function} now the server's clock (Camera.serverClock)
 */
const identityStep = (region, video, attemptid, width, start, now) => {
    const button = region.querySelector('[data-action="takephoto"]');
    const message = region.querySelector('[data-region="message"]');
    button.disabled = false;
    button.addEventListener('click', async() => {
        const image = Camera.frame(video, width);
        if (!image) {
            say(message, 'danger', await getString('camera_failed', 'quizaccess_proctorpy'));
            return;
        }
        button.disabled = true;
        say(message, 'info', await getString('identitychecking', 'quizaccess_proctorpy'));
        try {
            const answer = await Ajax.call([{methodname: 'quizaccess_proctorpy_check_identity', args: {
                attemptid: attemptid, takenat: now(), clientshotid: Camera.randomId(), image: image}}])[0];
            if (answer.passed) {
                say(message, 'success', answer.message + ' ' + await getString('identitypassed', 'quizaccess_proctorpy'));
                if (start) {
                    start.focus();
                }
                return;
            }
            say(message, 'warning', answer.message + ' ' + await getString('identityretry', 'quizaccess_proctorpy'));
        } catch (error) {
            say(message, 'danger', await getString('identityunavailable', 'quizaccess_proctorpy', error.message));
        }
        button.disabled = false;
    });
};

/**
 * Set up the preview in the pre-flight form.
 *
 * @param {number} attemptid the attempt at its identity step, 0 when there is none
 * @param {number} width identity photo width in pixels
 * @param {number} servertime the server's clock when it made the page, unix milliseconds
 */
export const init = async(attemptid, width, servertime) => {
    const region = document.querySelector('[data-region="quizaccess_proctorpy-preflight"]');
    if (!region) {
        return;
    }
    const form = region.closest('form');
    const start = form.querySelector('[name="submitbutton"]');
    // Present while consent is still to be given: the start button waits for a camera frame.
    const cameraok = form.querySelector('input[name="proctorpy_camera"]');
    const status = region.querySelector('[data-region="camerastatus"]');
    const video = region.querySelector('[data-region="preview"]');
    const identity = region.querySelector('[data-region="quizaccess_proctorpy-identity"]');
    if (start && cameraok) {
        start.disabled = true;
    }
    let stream = null;
    // The attempt page opens the camera itself (possibly in a pop-up or Safe Exam Browser window);
    // some cameras serve one page at a time, so this preview lets go as soon as the student starts.
    const release = () => setTimeout(() => Camera.close(stream), 500);
    form.addEventListener('submit', release);
    if (start) {
        start.addEventListener('click', release);
    }
    window.addEventListener('pagehide', () => Camera.close(stream));
    try {
        stream = await Camera.open(video, 640);
    } catch (error) {
        say(status, 'danger', await getString('camera_' + Camera.problem(error), 'quizaccess_proctorpy'));
        return;
    }
    say(status, 'success', await getString(identity ? 'camerareadyphoto' : 'cameraready', 'quizaccess_proctorpy'));
    if (cameraok) {
        cameraok.value = '1';
    }
    if (start) {
        start.disabled = false;
    }
    if (identity) {
        identityStep(identity, video, attemptid, width, start, Camera.serverClock(servertime));
    }
};
