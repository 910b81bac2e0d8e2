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
 * until the camera delivers a frame.
 *
 * @module     quizaccess_proctorpy/preflight
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

import * as Camera from 'quizaccess_proctorpy/camera';
import {getString} from 'core/str';

/**
 * Set up the preview in the pre-flight form.
 */
export const init = async() => {
    const region = document.querySelector('[data-region="quizaccess_proctorpy-preflight"]');
    if (!region) {
        return;
    }
    const form = region.closest('form');
    const start = form.querySelector('[name="submitbutton"]');
    const cameraok = form.querySelector('input[name="proctorpy_camera"]');
    const status = region.querySelector('[data-region="camerastatus"]');
    const video = region.querySelector('[data-region="preview"]');
    if (start) {
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
        cameraok.value = '1';
        status.className = 'alert alert-success';
        status.textContent = await getString('cameraready', 'quizaccess_proctorpy');
        if (start) {
            start.disabled = false;
        }
    } catch (error) {
        status.className = 'alert alert-danger';
        status.textContent = await getString('camera_' + Camera.problem(error), 'quizaccess_proctorpy');
    }
};
