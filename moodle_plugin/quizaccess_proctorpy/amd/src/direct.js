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
 * Direct upload: a transport that posts camshots and events straight to the sidecar, through
 * the path of the Moodle host that its web server proxies to the sidecar, with the upload token
 * minted for this page; and a transport that falls back to forwarding through Moodle when
 * direct uploads fail.
 *
 * Items keep the forwarded transport's shape (the external functions' arguments), so the queue
 * can change transport at any moment without losing or converting what it holds.
 *
 * @module     quizaccess_proctorpy/direct
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

/** Refusals by the sidecar that the same upload may pass later on the same path. */
const TRANSIENT = [429, 503, 507];

/**
 * Why direct upload cannot go on: forwarding may still deliver the item.
 */
class DirectUnavailable extends Error {
    /**
     * @param {string} reason short reason, for the console
     */
    constructor(reason) {
        super(reason);
        this.name = 'DirectUnavailable';
    }
}

/**
 * The image bytes of a data URL (or bare base64) as a Blob.
 *
 * @param {string} image data URL from the camera
 * @returns {Blob}
 */
const imageBlob = (image) => {
    const comma = image.indexOf(',');
    const header = comma >= 0 ? image.slice(0, comma) : '';
    const type = header.includes('image/png') ? 'image/png' : 'image/jpeg';
    const binary = window.atob(comma >= 0 ? image.slice(comma + 1) : image);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
        bytes[i] = binary.charCodeAt(i);
    }
    return new Blob([bytes], {type: type});
};

/**
 * The request for one queued item: the same body as the signed twin of the endpoint.
 *
 * @param {Object} item queued item (kind, args of the external function)
 * @param {number} userid the attempt's owner
 * @returns {Array} path under the public URL, fetch body, extra headers
 */
const request = (item, userid) => {
    const args = item.args;
    if (item.kind === 'camshot') {
        const form = new FormData();
        form.append('attempt_id', args.attemptid);
        form.append('user_id', userid);
        form.append('taken_at', args.takenat);
        form.append('client_shot_id', args.clientshotid);
        form.append('kind', args.kind);
        form.append('image', imageBlob(args.image), 'camshot.jpg');
        return ['/api/v1/direct/camshots', form, {}];
    }
    // The sidecar's field names, as in the signed endpoint's body.
    const body = JSON.stringify({'attempt_id': args.attemptid, 'user_id': userid, 'type': args.type, 'at': args.at,
        'client_event_id': args.clienteventid});
    return ['/api/v1/direct/events', body, {'Content-Type': 'application/json'}];
};

/**
 * The sidecar's own error answer, or null when something else answered (a proxy's error page).
 *
 * @param {Response} response the answer
 * @returns {Promise<Object|null>}
 */
const sidecarError = async(response) => {
    if (!(response.headers.get('Content-Type') || '').includes('application/json')) {
        return null;
    }
    try {
        const body = await response.json();
        return body && typeof body.error === 'string' ? body : null;
    } catch (e) {
        return null;
    }
};

/**
 * Transport straight to the sidecar.
 *
 * Rejects with DirectUnavailable when the path is broken (no answer, or an answer that is not
 * the sidecar's) or the sidecar refuses what forwarding may still deliver (expired token, an
 * attempt it does not know yet); rejects with a plain Error, retried on this path, when the
 * sidecar asks to slow down or is briefly unable to store, and when the student leaves the page:
 * the browser then cuts its requests short, which says nothing of the path.
 *
 * @param {Object} config url (public URL of the sidecar), token, userid
 * @returns {Object} transport with send(item)
 */
export const transport = (config) => {
    let leaving = false;
    window.addEventListener('pagehide', () => {
        leaving = true;
    });
    return {
        send: async(item) => {
            const [path, body, headers] = request(item, config.userid);
            let response;
            try {
                // No cookies: the sidecar needs the token only, and never sees the Moodle session.
                response = await fetch(config.url + path, {method: 'POST', body: body, credentials: 'omit',
                    headers: Object.assign({Authorization: 'Bearer ' + config.token}, headers)});
            } catch (error) {
                if (leaving) {
                    throw new Error('the page was left: ' + error.message);
                }
                throw new DirectUnavailable('no answer: ' + error.message);
            }
            if (response.ok) {
                return response.json();
            }
            const error = await sidecarError(response);
            if (error && TRANSIENT.includes(response.status)) {
                throw new Error(error.error + ': ' + error.message);
            }
            throw new DirectUnavailable(error ? error.error + ': ' + error.message : 'HTTP ' + response.status);
        },
    };
};

/**
 * Transport that sends directly until that fails, then through Moodle for the rest of the page.
 *
 * The item that failed is sent at once through Moodle, so no camshot waits or is lost; the
 * next page tries direct upload again with a fresh token.
 *
 * @param {Object} direct the direct transport
 * @param {Object} forward the forwarding transport
 * @param {Function} onfallback called once, when this page falls back
 * @returns {Object} transport with send(item)
 */
export const withFallback = (direct, forward, onfallback) => {
    let fallen = false;
    return {
        send: async(item) => {
            if (!fallen) {
                try {
                    return await direct.send(item);
                } catch (error) {
                    if (!(error instanceof DirectUnavailable)) {
                        throw error;
                    }
                    fallen = true;
                    onfallback();
                }
            }
            return forward.send(item);
        },
    };
};
