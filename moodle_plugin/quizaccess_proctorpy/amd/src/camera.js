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
 * Camera access shared by the pre-flight check and the capture module.
 *
 * @module     quizaccess_proctorpy/camera
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

/**
 * Why the camera cannot be used, as the suffix of a `camera_<reason>` lang string.
 *
 * @param {Error|null} error what getUserMedia threw, null when it was never available
 * @returns {string} insecure, blocked, absent, busy or failed
 */
export const problem = (error) => {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        // Browsers only offer the camera to HTTPS pages (and localhost).
        return 'insecure';
    }
    const name = error ? error.name : '';
    if (name === 'NotAllowedError' || name === 'SecurityError') {
        return 'blocked';
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError') {
        return 'absent';
    }
    if (name === 'NotReadableError' || name === 'AbortError') {
        return 'busy';
    }
    return 'failed';
};

/**
 * Open the camera and play it in a video element.
 *
 * @param {HTMLVideoElement} video where to play it
 * @param {number} width ideal width in pixels
 * @returns {Promise<MediaStream>} the stream, once the video has a frame
 */
export const open = async(video, width) => {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error('insecure');
    }
    const stream = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: width}}, audio: false});
    video.muted = true;
    video.srcObject = stream;
    await video.play();
    await firstFrame(video);
    return stream;
};

/**
 * Resolve once the video shows a frame.
 *
 * @param {HTMLVideoElement} video the video
 * @returns {Promise<void>}
 */
const firstFrame = (video) => new Promise((resolve) => {
    const check = () => {
        if (video.readyState >= 2 && video.videoWidth > 0) {
            resolve();
        } else {
            setTimeout(check, 100);
        }
    };
    check();
});

/**
 * Stop every track of a stream, releasing the camera for the next page.
 *
 * @param {MediaStream|null} stream the stream
 */
export const close = (stream) => {
    if (stream) {
        stream.getTracks().forEach((track) => track.stop());
    }
};

/**
 * The current frame, scaled to a width, as a JPEG data URL.
 *
 * @param {HTMLVideoElement} video playing video
 * @param {number} width width in pixels (never larger than the camera's)
 * @returns {string|null} data URL, null when there is no frame
 */
export const frame = (video, width) => {
    if (video.readyState < 2 || !video.videoWidth) {
        return null;
    }
    const scale = Math.min(1, width / video.videoWidth);
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL('image/jpeg', 0.85);
};

/**
 * A clock that tells the server's time: the browser's own, moved by how far it was from the server's
 * when the server made the page. The server refuses times far from its own, and a student whose
 * computer's clock is wrong must not lose camshots for it.
 *
 * @param {number} servertime the server's clock when it made the page, unix milliseconds (0: none known)
 * @returns {Function} a function returning the time now, unix milliseconds by the server's clock
 */
export const serverClock = (servertime) => {
    const offset = servertime ? servertime - Date.now() : 0;
    return () => Date.now() + offset;
};

/**
 * A random id of 16 bytes in hex, used as idempotency key of camshots and events.
 *
 * @returns {string}
 */
export const randomId = () => {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
};
