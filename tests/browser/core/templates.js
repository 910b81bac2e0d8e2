// Stand-in for Moodle's core/templates: renders the plugin's own Mustache files, with the
// {{#str}} helper filled from its lang file.
define(['mustache'], function(Mustache) {
    return {
        render: function(name, context) {
            var file = '/templates/' + name.split('/')[1] + '.mustache';
            return Promise.all([fetch(file).then(function(r) {
                return r.text();
            }), fetch('/strings.json').then(function(r) {
                return r.json();
            })]).then(function(loaded) {
                var strings = loaded[1];
                var view = Object.assign({}, context, {
                    str: function() {
                        return function(text) {
                            return strings[text.split(',')[0].trim()];
                        };
                    }
                });
                return Mustache.render(loaded[0], view).trim();
            });
        }
    };
});
