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
 * until the camera delivers a frame. At an attempt's identity step, the frames for the sidecar's
 * liveness and identity check: the server draws the challenge and ends the step, this module only shows
 * the challenge, takes the frames and shows the answer.
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
 * Frames of the camera spread evenly over some seconds, the first at once.
 *
 * @param {HTMLVideoElement} video the playing preview
 * @param {number} width frame width in pixels
 * @param {number} count how many frames
 * @param {number} seconds over how long
 * @returns {Promise<string[]|null>} JPEG data URLs, null when the camera gave no frame
 */
const takeFrames = async(video, width, count, seconds) => {
    const frames = [];
    for (let n = 0; n < count; n++) {
        if (n > 0) {
            await new Promise((resolve) => setTimeout(resolve, seconds * 1000 / (count - 1)));
        }
        const image = Camera.frame(video, width);
        if (!image) {
            return null;
        }
        frames.push(image);
    }
    return frames;
};

/**
 * The identity step: the sidecar draws a challenge (move closer, turn the head to one side) that the student
 * follows while the camera takes a few frames, then checks them at once. A photo held up to the camera cannot
 * follow it. A refused check starts again with a new challenge, until the sidecar's limit: then the student
 * waits for the teacher.
 *
 * @param {HTMLElement} region the identity region
 * @param {HTMLVideoElement} video the playing preview
 * @param {number} attemptid the attempt
 * @param {number} width frame width in pixels
 * @param {HTMLElement|null} start the form's submit button
 * @param {Function} now the server's clock (Camera.serverClock)
 */
const identityStep = (region, video, attemptid, width, start, now) => {
    const button = region.querySelector('[data-action="takephoto"]');
    const instruction = region.querySelector('[data-region="instruction"]');
    const message = region.querySelector('[data-region="message"]');
    const component = 'quizaccess_proctorpy';
    button.disabled = false;
    button.addEventListener('click', async() => {
        button.disabled = true;
        message.className = '';
        message.textContent = '';
        try {
            const challenge = await Ajax.call([{methodname: 'quizaccess_proctorpy_get_identity_challenge',
                args: {attemptid: attemptid}}])[0];
            if (challenge.waiting) {
                say(message, 'danger', challenge.message);
                return;
            }
            instruction.textContent = await getString('identityfollow', component, challenge.instruction);
            instruction.hidden = false;
            const frames = await takeFrames(video, width, challenge.frames, challenge.seconds);
            instruction.hidden = true;
            if (!frames) {
                say(message, 'danger', await getString('camera_failed', component));
                button.disabled = false;
                return;
            }
            say(message, 'info', await getString('identitychecking', component));
            const answer = await Ajax.call([{methodname: 'quizaccess_proctorpy_check_identity', args: {
                attemptid: attemptid, takenat: now(), clientshotid: Camera.randomId(),
                challengeid: challenge.challengeid, frames: frames}}])[0];
            if (answer.passed) {
                say(message, 'success', answer.message + ' ' + await getString('identitypassed', component));
                if (start) {
                    start.focus();
                }
                return;
            }
            if (answer.refusalsleft === 0) {
                say(message, 'danger', answer.message + ' ' + await getString('identitywaitteacher', component));
                return;
            }
            say(message, 'warning', answer.message + ' ' + await getString('identityretry', component));
        } catch (error) {
            instruction.hidden = true;
            say(message, 'danger', await getString('identityunavailable', component, error.message));
        }
        button.disabled = false;
    });
};

/**
 * Set up the preview in the pre-flight form.
 *
 * @param {number} attemptid the attempt at its identity step, 0 when there is none
 * @param {number} width identity frame width in pixels
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
