"""Procedural benchmark generators: the synthetic occlusion benchmark (:mod:`.synth`, :mod:`.synth_pose`),
its textures (:mod:`.textures`) and the occlusion compositor (:mod:`.occlude`), also used as training
augmentation by :mod:`adaanchor.data.build`. They import nothing above :mod:`adaanchor.data.spec`."""
